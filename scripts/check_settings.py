"""`make check-settings` (before `make up` builds or starts anything): the server's own
check of its settings, run on the host with what compose would pass to the ARCH's
container, so that a bad value stops `make up` with the server's message, not with
"container ... is unhealthy".

    ARCH=single-acceptor DISPATCH=fastest PYTHONPATH=services python3 scripts/check_settings.py
"""

import os
import re
import sys
from pathlib import Path

from connlab.config import ConfigError, Settings

COMPOSE_FILE = Path(__file__).resolve().parent.parent / "compose/compose.yaml"


def server_env_names(text):
    """The settings that compose passes to every server: the keys of `&server-env`."""
    _, found, block = text.partition("environment: &server-env\n")
    names = []
    for line in block.splitlines():
        key = re.match(r"\s+([A-Z][A-Z0-9_]*):", line)
        if not key:
            break
        names.append(key.group(1))
    if not (found and names):
        sys.exit(f"connlab: ERROR: no `environment: &server-env` block in {COMPOSE_FILE}")
    return names


def main():
    # As in the container: each setting from the environment, empty if unset, and ARCH.
    env = {name: os.environ.get(name, "") for name in server_env_names(COMPOSE_FILE.read_text())}
    env["ARCH"] = os.environ.get("ARCH", "")
    try:
        Settings.from_env(env)
    except ConfigError as exc:
        print(f"connlab: ERROR: {exc}", file=sys.stderr)
        print("connlab: nothing was built or started. Fix or unset it (on the make command line or in the "
              "environment); the settings are in docs/architectures.md and docs/operations.md.", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
