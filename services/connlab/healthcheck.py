"""`python -m connlab.healthcheck`: exit 0 when the server answers its protocol's health
probe (RESP: PING; HTTP: GET /ping) on its port. It reads PORT and PROTOCOL itself: the server checked
them at start, and config.py's imports would add half again to what each probe costs
the server's CPUs."""

import os
import socket
import sys

from .protocols import PROTOCOLS


def main():
    port = int(os.environ.get("PORT") or "7000")
    request, expected = PROTOCOLS[os.environ.get("PROTOCOL") or "resp"].PROBE
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(request)
            answer = sock.recv(64)
    except OSError as exc:
        sys.exit(f"unhealthy: {exc}")
    if not answer.startswith(expected):  # HTTP's reply goes on with a Date
        sys.exit(f"unhealthy: {request!r} answered {answer!r}")


if __name__ == "__main__":
    main()
