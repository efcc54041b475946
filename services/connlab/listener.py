"""The listener: the listening socket every architecture starts from."""

import socket


def open_listener(host, port, backlog, reuse_port=False):
    """A bound, listening TCP socket. With `reuse_port`, several sockets may bind the
    same port and the kernel spreads new connections among them (SO_REUSEPORT)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(backlog)  # the kernel caps it at net.core.somaxconn
    return sock
