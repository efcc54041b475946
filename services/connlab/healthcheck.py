"""`python -m connlab.healthcheck`: exit 0 when the server answers PING on its port."""

import os
import socket
import sys


def main():
    port = int(os.environ.get("PORT", "7000"))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            answer = sock.recv(64)
    except OSError as exc:
        sys.exit(f"unhealthy: {exc}")
    if answer != b"+PONG\r\n":
        sys.exit(f"unhealthy: PING answered {answer!r}")


if __name__ == "__main__":
    main()
