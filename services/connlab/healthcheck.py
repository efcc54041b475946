"""`python -m connlab.healthcheck`: exit 0 when the server answers its protocol's health
probe (RESP: PING) on its port."""

import socket
import sys

from .config import ConfigError, Settings


def main():
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        sys.exit(f"unhealthy: {exc}")
    request, expected = settings.protocol.PROBE
    try:
        with socket.create_connection(("127.0.0.1", settings.port), timeout=2) as sock:
            sock.sendall(request)
            answer = sock.recv(64)
    except OSError as exc:
        sys.exit(f"unhealthy: {exc}")
    if answer != expected:
        sys.exit(f"unhealthy: {request!r} answered {answer!r}")


if __name__ == "__main__":
    main()
