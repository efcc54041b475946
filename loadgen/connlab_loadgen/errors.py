"""Failures with names that read well in Locust's failure table.

Locust groups failures by (type, name, str(exception)), so each class carries a short,
stable message; never the peer address or an errno text that varies run to run.
"""

import errno
import socket


class LoadgenFailure(Exception):
    message = "failure"

    def __init__(self, detail=None):
        super().__init__(self.message)
        self.detail = detail

    def __str__(self):
        return self.message

    __repr__ = __str__  # Locust's failure table shows repr(); keep it the plain message


class ConnectRefused(LoadgenFailure):
    message = "connect: connection refused"


class ConnectTimeout(LoadgenFailure):
    message = "connect: timed out"


class ConnectUnresolved(LoadgenFailure):
    message = "connect: host name not resolved"


class ConnectFailed(LoadgenFailure):
    message = "connect: failed"


class ConnectionReset(LoadgenFailure):
    message = "connection reset by server"


class ConnectionClosed(LoadgenFailure):
    message = "connection closed by server before the reply"


class ReplyTimeout(LoadgenFailure):
    message = "reply: timed out"


class ProtocolError(LoadgenFailure):
    message = "reply: RESP protocol error"

    def __init__(self, detail=None, protocol="RESP"):
        super().__init__(detail)
        # Most often a server that speaks the other protocol: say where to look.
        self.message = f"reply: {protocol} protocol error (does the server speak {protocol}? --protocol)"


class ServerError(LoadgenFailure):
    message = "reply: server error"

    def __init__(self, text):
        super().__init__(text)
        # Keep the first word (ERR, WRONGTYPE...) and the message: servers say it stably.
        self.message = f"reply: server error: {text}"


class UnexpectedReply(LoadgenFailure):
    message = "reply: unexpected value"


class IOFailed(LoadgenFailure):
    message = "socket error"


def from_connect_error(exc):
    if isinstance(exc, ConnectionRefusedError):
        return ConnectRefused(exc)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return ConnectTimeout(exc)
    if isinstance(exc, socket.gaierror):
        return ConnectUnresolved(exc)
    return ConnectFailed(exc)


def from_io_error(exc):
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return ReplyTimeout(exc)
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return ConnectionReset(exc)
    if isinstance(exc, OSError) and exc.errno in (errno.ECONNRESET, errno.EPIPE):
        return ConnectionReset(exc)
    return IOFailed(exc)
