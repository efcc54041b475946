"""`make up REFERENCE=<name>`: a reference server (references/<folder>/, a variant
`<folder>/<suffix>` included) in the stack instead of a design. Checks the name, then
writes what compose's `reference` service reads: build/reference.env (the record's env,
and the lab's settings it takes, WORKERS) and, where it has per-worker metrics, a
Prometheus target; prints the shell assignments the Makefile evaluates.

    PYTHONPATH=services:experiments python3 scripts/reference.py [--check] nginx/reuseport
"""

import json
import os
import shlex
import sys
from pathlib import Path

from connlab_compare import targets

ROOT = Path(__file__).resolve().parent.parent


def main(name, check=False, env=os.environ):
    found = targets.references()
    if name not in found:
        sys.stderr.write(f"connlab: ERROR: unknown REFERENCE '{name}'. Valid: {' '.join(found)}\n")
        return 2
    if check:
        return 0
    reference = found[name]
    # make up SERVER_ENGINE=: on another machine's network, reached at its address.
    host = env["SERVER_ADDRESS"] if env.get("SERVER_ENGINE") else "reference"
    _, settings = reference.run_spec(None, {key: env[key] for key in reference.settings if env.get(key)})
    (ROOT / "build").mkdir(exist_ok=True)
    (ROOT / "build/reference.env").write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    scraped = ROOT / "build/prometheus/targets/reference.json"
    scraped.parent.mkdir(parents=True, exist_ok=True)
    scraped.write_text(json.dumps([{"targets": [f"{host}:{reference.metrics_port}"],
                                    "labels": {"job": "reference", "target": name}}] if reference.metrics_port else []))
    protocol = reference.protocols[0]
    for key, value in {"REFERENCE_FOLDER": reference.image, "REFERENCE_IMAGE": targets.image(reference.image),
                       "REFERENCE_PORT": reference.port, "REFERENCE_READY": shlex.join(reference.ready),
                       "REFERENCE_LABEL": reference.label, "PROTOCOL": protocol,
                       "LOADGEN_DIALECT": reference.dialect or "connlab",
                       "LOADGEN_HOST": f"{host}:{reference.port}"}.items():  # fmt: skip
        print(f"export {key}={shlex.quote(str(value))}")
    return 0


if __name__ == "__main__":
    arguments = sys.argv[1:]
    check = arguments[:1] == ["--check"]  # the name only, before make builds anything
    sys.exit(main(arguments[-1], check) if len(arguments) == 1 + check else "usage: reference.py [--check] <name>")
