"""RESP2: Redis's protocol, request parsing and reply rendering.

The parser is incremental: feed it bytes as they arrive, in pieces of any size, and
take complete requests out. Announced lengths are checked against the limits before
any data is awaited, so an announced 4 GiB bulk costs nothing.
"""

from collections import namedtuple

from ..commands import OK, PONG, Closing, Error, Status
from ..ownership import mine
from . import ProtocolError

CRLF = b"\r\n"
HEADER_MAX = 32  # bytes in a `*<count>` or `$<length>` line, as both parser paths read it


# Bytes in one bulk string, elements in one request array, bytes in one inline command line.
Limits = namedtuple("Limits", "max_bulk max_array max_inline", defaults=(1024 * 1024, 1024 * 1024, 64 * 1024))


def render(result, request=None):
    """A command's result (commands.py) as RESP2 bytes (whatever the request)."""
    if result is PONG:  # PING's, the benchmarks' hot path: not even a lookup
        return _PONG
    kind = type(result)
    if kind is bytes:  # ECHO's, the other one
        return b"$%d\r\n%s\r\n" % (len(result), result)
    return _RENDER[kind](result)


def _status(status):
    try:
        return _STATUSES[status]  # made once
    except KeyError:
        return _simple(status)


def _simple(status):
    return b"+" + status.encode() + CRLF


def _error(text):
    return b"-" + text.encode().replace(b"\r", b" ").replace(b"\n", b" ") + CRLF


def _integer(value):
    return b":%d\r\n" % value


def _array(items):
    return b"*%d\r\n" % len(items) + b"".join(map(render, items))


def _closing(result):
    return Closing(render(result.reply))


_STATUSES = {status: _simple(status) for status in (OK, PONG)}
_PONG = _STATUSES[PONG]
_RENDER = {Status: _status, int: _integer, list: _array, Error: _error, Closing: _closing}


class Resp:
    """RESP2, Redis's protocol (the subset in docs/protocol.md). One per connection: it
    holds that connection's half-read request."""

    name = "resp"
    Limits = Limits
    PROBE = b"PING\r\n", b"+PONG\r\n"
    REFUSAL = _error("ERR max connections reached")

    def __init__(self, limits=Limits()):
        self.limits = limits
        self._tables = mine(_COUNTS), mine(_LENGTHS)  # this thread's own (ownership.py)
        self._buf = bytearray()
        self._pos = 0
        self._args = None  # arguments of the array being read
        self._missing = 0  # elements still to come in that array
        self._bulk_len = -1  # length of the bulk being awaited, -1 if none

    def feed(self, data):
        """Add bytes; return the requests they complete. Raises ProtocolError."""
        requests = []
        if not self._buf and self._args is None:  # nothing half-read: try the fast path
            used = _complete_arrays(data, self.limits, requests, *self._tables)
            if used == len(data):
                return requests
            data = memoryview(data)[used:]
        self._buf += data
        try:
            while (request := self._next_request()) is not None:
                if request:  # empty inline lines are skipped, as Redis does
                    requests.append(request)
        except ProtocolError as exc:
            exc.requests = requests  # the ones before the error still get replies
            raise
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        return requests

    render = staticmethod(render)

    @staticmethod
    def error(exc):
        return _error(f"ERR Protocol error: {exc}")

    @staticmethod
    def patience(limits):
        return 0  # a request may take as long as it likes (IDLE_TIMEOUT still applies), as in Redis

    def stalled(self, now):
        return None

    def owed(self):
        return None  # RESP has no interim replies

    def _line(self, limit, what):
        end = self._buf.find(CRLF, self._pos, self._pos + limit + 2)
        if end < 0:
            if len(self._buf) - self._pos > limit + 1:
                raise ProtocolError(f"too big {what}")
            return None
        line = bytes(self._buf[self._pos : end])
        self._pos = end + 2
        return line

    def _next_request(self):
        if self._args is None:
            if self._pos >= len(self._buf):
                return None
            if self._buf[self._pos] != ord("*"):
                return self._inline()
            header = self._line(HEADER_MAX, "multibulk count")
            if header is None:
                return None
            count = _number(header[1:], "multibulk length")
            if count > self.limits.max_array:
                raise ProtocolError(f"invalid multibulk length {count} (limit {self.limits.max_array})")
            if count <= 0:
                return []
            self._args, self._missing = [], count
        while self._missing:
            if self._bulk_len < 0:
                if self._pos >= len(self._buf):
                    return None
                if self._buf[self._pos] != ord("$"):
                    got = chr(self._buf[self._pos])
                    raise ProtocolError(f"expected '$', got '{got}'")
                header = self._line(HEADER_MAX, "bulk length")
                if header is None:
                    return None
                length = _number(header[1:], "bulk length")
                if length < 0 or length > self.limits.max_bulk:
                    raise ProtocolError(f"invalid bulk length {length} (limit {self.limits.max_bulk})")
                self._bulk_len = length
            end = self._pos + self._bulk_len
            if len(self._buf) < end + 2:
                return None
            if self._buf[end : end + 2] != CRLF:
                raise ProtocolError("bulk string not terminated by CRLF")
            self._args.append(bytes(self._buf[self._pos : end]))
            self._pos = end + 2
            self._bulk_len = -1
            self._missing -= 1
        args, self._args = self._args, None
        return args

    def _inline(self):
        """An inline command: space-separated words ending in \\n or \\r\\n."""
        limit = self.limits.max_inline
        end = self._buf.find(b"\n", self._pos, self._pos + limit + 2)  # room for the line and its \r\n
        # The line without its ending counts, however it arrives: whole, or a byte at a
        # time (then a full line and its \r may wait for the \n).
        if end < 0:
            waiting = len(self._buf) - self._pos
            if waiting > limit and not (waiting == limit + 1 and self._buf.endswith(b"\r")):
                raise ProtocolError(f"too big inline request (limit {limit})")
            return None
        if end - self._pos - (self._buf[end - 1 : end] == b"\r") > limit:
            raise ProtocolError(f"too big inline request (limit {limit})")
        line = bytes(self._buf[self._pos : end]).rstrip(b"\r")
        self._pos = end + 1
        return line.split()


# The headers of everyday requests, looked up rather than parsed.
_COUNTS = {b"*%d" % n: n for n in range(1, 17)}
_LENGTHS = {b"$%d" % n: n for n in range(257)}


def _header(line, known, prefix, low, high):
    """The number in a header line (`*3`, `$4`), or None unless the incremental parser
    would accept it: `prefix`, then a number in [low, high], within its line limit."""
    number = known.get(line)
    if number is None:
        if not 1 < len(line) <= HEADER_MAX or line[0] != prefix:
            return None
        try:
            number = int(line[1:])
        except ValueError:
            return None
    return number if low <= number <= high else None


def _complete_arrays(data, limits, requests, counts=_COUNTS, lengths=_LENGTHS):
    """The fast path, for the common case of whole requests in one read: split `data`
    at its line ends once, take the complete, well-formed arrays of bulk strings at its
    start, append them to `requests`, and return how many bytes they took. It stops at
    anything else (an inline command, a request cut short, a bulk string that holds a
    line end, a limit, malformed framing) and leaves it to the incremental parser,
    which treats it exactly as it would have."""
    max_array, max_bulk = limits.max_array, limits.max_bulk
    lines = data.split(CRLF)
    last = len(lines) - 1  # lines[last] is what follows the final line end
    at = 0
    while at < last:
        count = _header(lines[at], counts, 42, 1, max_array)  # '*'; *0 and *-1 are skipped there
        if count is None or at + 2 * count >= last:
            break
        args = []
        for line in range(at + 1, at + 2 * count, 2):
            arg = lines[line + 1]
            if _header(lines[line], lengths, 36, 0, max_bulk) != len(arg):  # '$'
                break
            args.append(arg)
        else:
            requests.append(args)
            at += 2 * count + 1
            continue
        break
    if at == last:
        return len(data) - len(lines[last])
    return sum(map(len, lines[:at])) + 2 * at


def _number(raw, what):
    try:
        return int(raw)
    except ValueError:
        raise ProtocolError(f"invalid {what}") from None


PROTOCOL = Resp
