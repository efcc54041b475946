"""HTTP/1.1: the routes of docs/protocol.md, one per command, parsed by httptools (llhttp,
Node.js's parser, which uvicorn uses).

llhttp does the framing and refuses what RFC 9112 calls request smuggling (Content-Length
with Transfer-Encoding, a second Content-Length); this module adds the limits a server
needs (head size, body size, how long a head may take) and maps each request to a
command: `GET /sleep?ms=5` is SLEEP 5. Persistent connections and pipelining come from
the rest of the server: each request gets its reply slot, answered in request order.
A client that waits with `Expect: 100-continue` gets `100 Continue` in its turn.
"""

import time
from collections import namedtuple
from email.utils import formatdate
from http import HTTPStatus

from ..commands import PONG, Closing, Error, Status
from . import ProtocolError

try:
    import httptools
except ImportError:  # make's checks read the settings with the host's Python, which serves nothing
    httptools = None

CRLF = b"\r\n"
HEAD_END = b"\r\n\r\n"
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"

# Bytes in a request head (request line and headers), bytes in a body, seconds a head may
# take to arrive: nginx's large_client_header_buffers, client_max_body_size and
# client_header_timeout.
Limits = namedtuple("Limits", "max_header max_body header_timeout", defaults=(8 * 1024, 1024 * 1024, 10))


class Route(namedtuple("Route", "method command query")):
    """A path's method, the command it runs, and the query parameter that is its
    argument (None: none; BODY: the request body)."""


BODY = object()
ROUTES = {
    b"/ping": Route(b"GET", b"PING", None),
    b"/echo": Route(b"POST", b"ECHO", BODY),
    b"/sleep": Route(b"GET", b"SLEEP", b"ms"),
    b"/work": Route(b"GET", b"WORK", b"us"),
    b"/info": Route(b"GET", b"INFO", None),
}


class Request(list):
    """A command and its arguments (as RESP's requests are), and what its reply needs:
    `close`: the connection closes after it; `header`: a Connection header to send;
    `refusal`: (status, text, headers) when the request cannot be served (404, 405, 400);
    `bodiless`: a HEAD request, answered with GET's head and no body (RFC 9110 §9.3.2)."""

    __slots__ = ("close", "header", "refusal", "bodiless")


def _head(status, *headers):
    phrase = HTTPStatus(status).phrase
    return b"HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n%s" % (status, phrase.encode(), b"".join(headers))


_HEADS = {}  # status -> the start of its reply head, made once per status


def _reply(status, body, extra=b""):
    """A whole reply, with the Date this second (RFC 9110 §6.6.1: an origin server with a
    clock sends it)."""
    head = _HEADS.get(status) or _HEADS.setdefault(status, _head(status))
    return b"%sContent-Length: %d\r\n%s%s\r\n%s" % (head, len(body), _date(), extra, body)


_DATE = (0, b"")  # (the second, its Date header line): formatted once a second


def _date():
    global _DATE
    now = int(time.time())
    if now != _DATE[0]:
        _DATE = (now, b"Date: %s\r\n" % formatdate(now, usegmt=True).encode())
    return _DATE[1]


def _body(result):
    """A command's result (commands.py) as a text body."""
    kind = type(result)
    if kind is bytes:
        return result
    if kind is Status:
        return result.encode()
    if kind is int:
        return b"%d" % result
    if kind is list:
        return b"".join(_body(item) + CRLF for item in result)
    return str(result).encode()


def render(result, request):
    """The reply to `request` (an Http Request) whose command returned `result`."""
    if request.refusal is not None:
        status, text, headers = request.refusal
        body = text.encode()
        return _finished(request, body, _reply(status, body, headers + request.header))
    kind = type(result)
    if kind is Closing:  # QUIT has no route; a Closing result still closes
        request.close, result = True, result.reply
        kind = type(result)
    status = 400 if kind is Error else 200
    body = _PONG_BODY if result is PONG else _body(result)
    return _finished(request, body, _reply(status, body, request.header))


def _finished(request, body, reply):
    if request.bodiless:  # its Content-Length stays: the length GET's body would have
        reply = reply[: len(reply) - len(body)]
    return Closing(reply) if request.close else reply


_PONG_BODY = b"PONG"
CLOSE, KEEP_ALIVE = b"Connection: close\r\n", b"Connection: keep-alive\r\n"


class Failure(ProtocolError):
    """Input the server answers with `status` and then closes."""

    def __init__(self, status, text):
        super().__init__(text)
        self.status = status


class Http:
    """HTTP/1.1 (and 1.0) requests in, replies out. One per connection: it holds that
    connection's parser, its half-read request and how long that has been arriving."""

    name = "http"
    Limits = Limits
    PROBE = b"GET /ping HTTP/1.1\r\nHost: healthcheck\r\nConnection: close\r\n\r\n", b"HTTP/1.1 200 OK\r\n"
    # Made once, so without a Date (RFC 9110 §6.6.1 lets a 5xx reply go without); the
    # other headers in the order of every reply.
    REFUSAL = _head(503) + b"Content-Length: 24\r\n" + CLOSE + b"\r\nmax connections reached\n"

    def __init__(self, limits=Limits()):
        self.limits = limits
        self._parser = httptools.HttpRequestParser(self)
        self._requests = None  # those the current feed completed
        self._url = b""
        self._head_size = 0  # bytes of the head being read, as its parts arrive
        self._body = []
        self._body_size = 0  # bytes of the body being read, over all the feeds it takes
        self._content_length = 0
        self._hosts = 0  # Host header lines in the head being read
        self._expects = False  # the head being read has Expect: 100-continue
        self._owed = False  # such a head has ended and none of its body has come
        self._in_body = False  # between a head's end and its message's end
        self._boundary = False  # a head or message ended during the current feed
        self._after_head = 0  # body bytes since the last head ended, in the current feed
        self._partial = 0  # bytes of an unfinished head so far
        self._head_open = False  # a head has begun and not ended
        self._since = 0.0  # monotonic time its first bytes came; 0: none unfinished

    render = staticmethod(render)

    @staticmethod
    def error(exc):
        return _reply(getattr(exc, "status", 400), f"{exc}\n".encode(), CLOSE)

    @staticmethod
    def patience(limits):
        """Seconds a request head may take to arrive (the event loops check)."""
        return limits.header_timeout

    def stalled(self, now):
        """The 408 reply if a request head has been arriving for too long, else None."""
        if self._since and now - self._since > self.limits.header_timeout:
            return self.error(Failure(408, f"request head not complete within {self.limits.header_timeout} s"))
        return None

    def owed(self):
        """100 Continue once an HTTP/1.1 head that expects it has ended and no byte of its
        body has come with it (RFC 9110 §10.1.1: a server that has some of the body may
        omit it; one with a final status for the head alone, 413 here, sends that)."""
        if self._owed:
            self._owed = False
            return CONTINUE
        return None

    def feed(self, data):
        """Add bytes; return the requests they complete. Raises ProtocolError."""
        self._requests, self._boundary, self._after_head = [], False, 0
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # llhttp completes the upgrading request before it stops: that request is
            # answered by the refusal alone, not by its command's reply as well.
            if self._requests:
                self._requests.pop()
            raise self._failed(Failure(400, "protocol upgrades are not supported")) from None
        except httptools.HttpParserCallbackError as exc:  # a callback's Failure comes back as its context
            if isinstance(exc.__context__, Failure):
                raise self._failed(exc.__context__) from None
            raise
        except httptools.HttpParserError as exc:
            raise self._failed(Failure(400, f"malformed request: {exc}")) from None
        if not self._in_body:
            self._count_partial(data)
        return self._requests

    def _failed(self, exc):
        exc.requests = self._requests  # those before the error still get replies
        return exc

    def _count_partial(self, data):
        """Bound an unfinished head: its bytes so far, and when it began."""
        if not self._boundary:
            self._partial += len(data)
        else:  # it began after the last head end in `data`, and after that head's body
            end = data.rfind(HEAD_END)
            self._partial = max(0, len(data) - (end + 4 if end >= 0 else 0) - self._after_head)
        if self._partial > self.limits.max_header:
            raise self._failed(Failure(431, f"request head over {self.limits.max_header} bytes (MAX_HEADER)"))
        # The parser says whether a head is open: the byte count above can come out short
        # (a chunked body's framing, or a body holding a blank line, in the same read).
        if not self._head_open:
            self._since = 0.0
        elif not self._since:
            self._since = time.monotonic()

    # --- httptools' callbacks: one request at a time ------------------------------------
    def on_message_begin(self):
        self._url, self._body, self._body_size, self._content_length, self._hosts = b"", [], 0, 0, 0
        self._expects = self._owed = False
        self._head_size = 16  # about the request line's spaces, version and line ends (the method not counted)
        self._head_open = True

    def on_url(self, url):
        self._url += url

    def on_header(self, name, value):
        self._head_size += len(name) + len(value) + 4  # "name: value\r\n"
        if len(name) == 14 and name.lower() == b"content-length":
            self._content_length = int(value)  # llhttp has checked it is a number
        elif len(name) == 4 and name.lower() == b"host":
            self._hosts += 1
        elif len(name) == 6 and name.lower() == b"expect":  # an HTTP/1.0 client's is ignored (§10.1.1)
            self._expects = value.strip().lower() == b"100-continue" and self._parser.get_http_version() == "1.1"

    def on_headers_complete(self):
        if len(self._url) + self._head_size > self.limits.max_header:
            raise Failure(431, f"request head over {self.limits.max_header} bytes (MAX_HEADER)")
        if self._content_length > self.limits.max_body:
            raise Failure(413, f"body of {self._content_length} bytes over {self.limits.max_body} (MAX_BODY)")
        self._in_body, self._boundary, self._after_head, self._partial, self._since = True, True, 0, 0, 0.0
        self._head_open, self._owed = False, self._expects

    def on_body(self, body):
        self._owed = False
        self._after_head += len(body)
        self._body_size += len(body)
        self._body.append(body)
        if self._body_size > self.limits.max_body:  # chunked: its size is known only now
            raise Failure(413, f"body over {self.limits.max_body} bytes (MAX_BODY)")

    def on_message_complete(self):
        self._in_body, self._boundary, self._owed = False, True, False
        parser, method = self._parser, self._parser.get_method()
        # RFC 9112 §3.2: a 400 to an HTTP/1.1 request without a Host header and to any with
        # two; then the connection closes, as nginx does (the target is ambiguous).
        if self._hosts != 1 and (self._hosts or parser.get_http_version() != "1.0"):
            request = _refused(400, HOST_TEXT, self._url.partition(b"?")[0])
            request.close = True
        else:
            request = _route(method, self._url, self._body)
        request.bodiless = method == b"HEAD"
        if request.close or not parser.should_keep_alive():
            request.close, request.header = True, CLOSE
        elif parser.get_http_version() == "1.0":
            request.header = KEEP_ALIVE
        self._requests.append(request)


HOST_TEXT = "an HTTP/1.1 request needs one Host header (RFC 9112 section 3.2)\n"


def _route(method, url, body):
    """The Request for `method` and `url`."""
    path, _, query = url.partition(b"?")
    route = ROUTES.get(path)
    if route is None:
        return _refused(404, f"no route {path[:200].decode(errors='replace')} (routes: {', '.join(r.decode() for r in ROUTES)})\n", path)
    if method != route.method and not (method == b"HEAD" and route.method == b"GET"):
        allowed = route.method + (b", HEAD" if route.method == b"GET" else b"")
        return _refused(405, f"{path.decode()} takes {allowed.decode()}\n", path, b"Allow: %s\r\n" % allowed)
    request = Request((route.command,))
    request.close, request.header, request.refusal = False, b"", None
    if route.query is BODY:
        request.append(b"".join(body))
    elif route.query is not None:
        value = _parameter(query, route.query)
        if value is None:
            return _refused(400, f"{path.decode()} needs ?{route.query.decode()}=<number>\n", path)
        request.append(value)
    return request


def _parameter(query, name):
    for pair in query.split(b"&"):
        key, _, value = pair.partition(b"=")
        if key == name:
            return value
    return None


def _refused(status, text, path, headers=b""):
    """A request with no command to run: answered `status` (its label: unknown)."""
    request = Request((b"\0" + path,))  # no command has this name
    request.close, request.header, request.refusal = False, b"", (status, text, headers)
    return request


PROTOCOL = Http
