"""The compose CLI as the Makefile finds it, and the composed config of every profile."""

import functools
import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "compose/compose.yaml"


@functools.cache
def compose_bin():
    """`docker compose` where the plugin exists, else the venv's docker-compose (as make)."""
    try:
        subprocess.run(["docker", "compose", "version"], check=True, capture_output=True, timeout=30)
        return ["docker", "compose"]
    except (OSError, subprocess.SubprocessError):
        return [str(pathlib.Path(sys.executable).parent / "docker-compose")]


def compose(*args, env=None, check=True, timeout=180):
    """Run compose on compose/compose.yaml from the repository root; `env` adds to (or,
    with None values, removes from) the environment."""
    environ = dict(os.environ)
    for key, value in (env or {}).items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    command = [*compose_bin(), "-f", str(COMPOSE_FILE), "--project-directory", str(ROOT), *args]
    return subprocess.run(command, env=environ, check=check, capture_output=True, text=True, timeout=timeout)


def composed_config(**env):
    """The fully resolved config with every profile enabled, as JSON."""
    result = compose("config", "--format", "json", env={"COMPOSE_PROFILES": "*", **env})
    return json.loads(result.stdout)
