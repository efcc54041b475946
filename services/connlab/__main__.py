"""`python -m connlab`: run the architecture named by ARCH (see config.py for settings)."""

import logging
import sys

from .config import ConfigError, Settings
from .interpreter import refuse_a_gil_in_a_free_threaded_build
from .server import serve
from .steering import SteeringError


def main():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        sys.exit(f"connlab: bad setting: {exc}")
    refuse_a_gil_in_a_free_threaded_build()
    try:
        serve(settings)
    except SteeringError as exc:
        sys.exit(f"connlab: {exc}")


if __name__ == "__main__":
    main()
