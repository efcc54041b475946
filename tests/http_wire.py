"""HTTP/1.1 on raw sockets, for the tests and the fuzzer: requests built byte by byte
(so that malformed ones can be too) and replies read strictly, one at a time, with
their exact head."""

import email.utils
import re
import socket
from dataclasses import dataclass

# The reason phrases the server writes (RFC 9110's, 431 RFC 6585's).
REASONS = {
    200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
    408: "Request Timeout", 413: "Content Too Large", 431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}  # fmt: skip
IMF_FIXDATE = re.compile(rb"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT")
MAX_HEAD = 64 * 1024  # a reply head longer than this is a broken server


def request(method, path, body=None, *, version="1.1", headers=(), chunks=None):
    """The bytes of one request. `body`: sent with Content-Length; `chunks`: sent with
    Transfer-Encoding: chunked, one chunk each; `headers`: (name, value) pairs more."""
    lines = [f"{method} {path} HTTP/{version}".encode(), b"Host: connlab"]
    lines += [f"{name}: {value}".encode() for name, value in headers]
    if body is not None:
        lines.append(b"Content-Length: %d" % len(body))
    if chunks is not None:
        lines.append(b"Transfer-Encoding: chunked")
        body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks if chunk) + b"0\r\n\r\n"
    return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")


def get(path, **options):
    return request("GET", path, **options)


def post(path, body, **options):
    return request("POST", path, body, **options)


@dataclass
class Reply:
    status: int
    reason: str
    headers: list  # [(name, value)] as sent, in order
    body: bytes
    head: bytes  # the raw head, status line to the blank line included

    def header(self, name):
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        return values[0] if len(values) == 1 else None if not values else values

    @property
    def closes(self):
        return (self.header("Connection") or "").lower() == "close"


class ProtocolViolation(AssertionError):
    """The server's reply is not well-formed HTTP/1.1 as the spec has it."""


class Replies:
    """Reads a connection's replies one at a time (what is read past one is kept)."""

    def __init__(self, sock):
        self.sock, self.buf = sock, bytearray()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed by the server with {bytes(self.buf[:200])!r} unread")
        self.buf += chunk

    def next(self, bodiless=False):
        """The next reply; ConnectionError if the server closes before it is whole.
        `bodiless`: the reply to a HEAD request, whose Content-Length no body follows."""
        while (end := self.buf.find(b"\r\n\r\n")) < 0:
            if len(self.buf) > MAX_HEAD:
                raise ProtocolViolation(f"no end of the reply head in {bytes(self.buf[:200])!r}")
            self._fill()
        head = bytes(self.buf[: end + 4])
        reply = parse_head(head)
        if bodiless:
            del self.buf[: end + 4]
            return reply
        length = reply.header("Content-Length")
        if not isinstance(length, str) or not length.isdigit():
            raise ProtocolViolation(f"one Content-Length expected in {head!r}")
        while len(self.buf) < end + 4 + int(length):
            self._fill()
        reply.body = bytes(self.buf[end + 4 : end + 4 + int(length)])
        del self.buf[: end + 4 + int(length)]
        return reply

    def closed(self, timeout=5):
        """True once the server has closed the connection, with nothing more sent."""
        self.sock.settimeout(timeout)
        try:
            while chunk := self.sock.recv(65536):
                self.buf += chunk
        except ConnectionResetError:
            pass
        except TimeoutError:
            return False
        return not self.buf


def parse_head(head):
    status_line, *lines = head[:-4].decode("latin-1").split("\r\n")
    match = re.fullmatch(r"HTTP/1\.1 (\d{3}) (.*)", status_line)
    if not match:
        raise ProtocolViolation(f"bad status line in {head!r}")
    headers = []
    for line in lines:
        name, colon, value = line.partition(": ")
        if not colon:
            raise ProtocolViolation(f"bad header line {line!r} in {head!r}")
        headers.append((name, value))
    return Reply(int(match[1]), match[2], headers, b"", head)


def exchange(sock, data, count=1):
    """Send `data`; read `count` replies (a list if count > 1)."""
    sock.sendall(data)
    replies = Replies(sock)
    got = [replies.next() for _ in range(count)]
    return got if count > 1 else got[0]


def expected_headers(status, body, *, allow=None, connection=None):
    """The reply head the spec prescribes, as (name, value) pairs; the Date's value is
    checked apart (it changes)."""
    headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(body))), ("Date", None)]
    if allow:
        headers.append(("Allow", allow))
    if connection:
        headers.append(("Connection", connection))
    return headers


def check_reply(reply, status, body=None, *, allow=None, connection=None):
    """Assert `reply` is exactly what the spec prescribes: status line, headers in order,
    a current IMF-fixdate Date, and `body` (if given)."""
    assert (reply.status, reply.reason) == (status, REASONS[status]), reply.head
    if body is not None:
        assert reply.body == body, (reply.head, reply.body[:200])
    dated = [(name, None if name == "Date" else value) for name, value in reply.headers]
    assert dated == expected_headers(status, reply.body, allow=allow, connection=connection), reply.head
    date = reply.header("Date").encode()
    assert IMF_FIXDATE.fullmatch(date), date
    email.utils.parsedate_to_datetime(date.decode())  # a real date, not only its shape


def connect_loopback(port, timeout=10):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock
