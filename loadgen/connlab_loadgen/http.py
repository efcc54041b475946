"""HTTP/1.1, the client's side: the lab's commands as requests, responses decoded. The
same shape as resp.py (protocols.py says what a codec has); the routes are the server's
(docs/protocol.md): PING is GET /ping, ECHO POST /echo, SLEEP GET /sleep?ms=, WORK
GET /work?us=, INFO GET /info.

Requests are written from one template per command, once per command of a mix (they
never change). Responses are parsed by httptools (llhttp, the server's parser too): a
2xx response decodes to its body, as RESP's bulk string would, any other to a
ReplyError, as RESP's error reply would. Content-Length and chunked bodies, split
anywhere and pipelined, are all llhttp's.
"""

from collections import deque
from http import HTTPStatus
from urllib.parse import quote

import httptools

NAME = "http"
METHOD = "HTTP"  # the request type in Locust's tables
DEFAULT_HOST = "connlab"
# Bytes that are no HTTP response (llhttp's message says why).
ProtocolError = httptools.HttpParserError
# command -> (path, the query parameter of its one argument, or None for none)
ROUTES = {"PING": ("/ping", None), "INFO": ("/info", None), "SLEEP": ("/sleep", "ms"), "WORK": ("/work", "us")}
COMMANDS = ("PING", "ECHO", "SLEEP", "WORK", "INFO")
ERROR_TEXT_MAX = 120  # of a refusal's body, in the failure's name


class ReplyError(Exception):
    """A response whose status is not 2xx: the server's refusal of the request."""

    def __init__(self, status, body=b""):
        self.status, self.body = status, body
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "(unknown status)"
        # One stable line (Locust groups failures by it): the status and the body's first line.
        text = next(iter(body.decode(errors="replace").strip().splitlines()), "")[:ERROR_TEXT_MAX]
        super().__init__(f"{status} {reason}" + (f": {text}" if text else ""))


def _text(arg):
    return arg.decode() if isinstance(arg, (bytes, bytearray)) else str(arg)


def encode(*args, host=DEFAULT_HOST, close=False):
    """One command (as resp.encode takes it: PING; ECHO payload; SLEEP ms; WORK us;
    INFO) as an HTTP/1.1 request to `host`; `close` asks the server to close the
    connection after its response (Connection: close)."""
    if not args:
        raise ValueError("no command to encode")
    command, *arguments = args
    name = _text(command).upper()
    if name not in COMMANDS:
        raise ValueError(f"HTTP has no request for {name!r} (it has {', '.join(COMMANDS)})")
    expected = 0 if name in ("PING", "INFO") else 1
    if len(arguments) != expected:
        raise ValueError(f"{name} takes {expected} argument(s) over HTTP, not {len(arguments)}")
    head = f"Host: {host}\r\n" + ("Connection: close\r\n" if close else "")
    if name == "ECHO":
        body = arguments[0] if isinstance(arguments[0], (bytes, bytearray)) else str(arguments[0]).encode()
        return f"POST /echo HTTP/1.1\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode() + bytes(body)
    path, parameter = ROUTES[name]
    target = f"{path}?{parameter}={quote(_text(arguments[0]), safe='')}" if parameter else path
    return f"GET {target} HTTP/1.1\r\n{head}\r\n".encode()


def request(args, host=None, close=False):
    """`args` as this protocol's request bytes, to `host`, maybe the connection's last."""
    return encode(*args, host=host or DEFAULT_HOST, close=close)


class Decoder:
    """Responses from a byte stream: a 2xx response's body (bytes), or a ReplyError.

    In the load generator's hot loop: feed() is the parser's own feed_data, and each
    piece of a body goes straight to a list's append, both without a Python frame;
    llhttp calls back into Python once per response, at its end."""

    __slots__ = ("feed", "on_body", "_parser", "_chunks", "_replies")

    def __init__(self):
        self._chunks, self._replies = [], deque()
        self.on_body = self._chunks.append  # before the parser: it looks its callbacks up once
        self._parser = httptools.HttpResponseParser(self)
        self.feed = self._parser.feed_data

    def on_message_complete(self):
        body = b"".join(self._chunks)  # one piece: that very bytes object, not a copy
        self._chunks.clear()
        status = self._parser.get_status_code()
        self._replies.append(body if 200 <= status < 300 else ReplyError(status, body))

    def gets(self):
        """The next complete reply, or False."""
        return self._replies.popleft() if self._replies else False

    def decode(self, data=b""):
        """Every reply complete once `data` is added; a partial one waits for more."""
        if data:
            self.feed(data)
        replies = list(self._replies)
        self._replies.clear()
        return replies
