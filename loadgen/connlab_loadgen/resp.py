"""RESP2, the client's side: requests encoded, replies decoded, and the lab's commands
with the replies they expect. The load generator, the tests, fuzz, soak and the
benchmarks all speak RESP through this module (the server has its own, in services/).

A protocol's client codec is `encode(*args) -> bytes` and a `Decoder` with feed(data),
gets() (the next complete reply, or False) and decode(data) (every reply `data`
completes).
"""

from dataclasses import dataclass

import hiredis

# What a reply can be besides bytes, int, None and lists; hiredis raises ProtocolError
# on bytes that are no reply at all.
ReplyError = hiredis.ReplyError
ProtocolError = hiredis.ProtocolError


def bulk(data):
    """One bulk string: a request's argument, or the server's reply to ECHO."""
    return b"$%d\r\n%s\r\n" % (len(data), data)


def encode(*args):
    """One command as a RESP array of bulk strings (what redis-cli and redis-py send);
    arguments other than bytes are sent as their text."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        parts.append(bulk(arg if isinstance(arg, (bytes, bytearray)) else str(arg).encode()))
    return b"".join(parts)


class Decoder(hiredis.Reader):
    """Replies from a byte stream, parsed by hiredis: a simple string or a bulk string
    is bytes, an error a ReplyError, an integer an int, a null None, an array a list.
    A subclass, not a wrapper: the load generator calls feed() and gets() per reply."""

    def decode(self, data=b""):
        """Every reply complete once `data` is added; a partial one waits for more."""
        self.feed(data)
        replies = []
        while (reply := self.gets()) is not False:
            replies.append(reply)
        return replies


@dataclass(frozen=True)
class Command:
    """A request in the mix: its Locust name, its bytes on the wire, the reply it needs."""

    name: str
    wire: bytes
    expected: object  # the decoded reply that counts as success

    @classmethod
    def ping(cls):
        return cls("PING", encode("PING"), b"PONG")

    @classmethod
    def echo(cls, size):
        payload = b"x" * size
        return cls(f"ECHO {size}B", encode("ECHO", payload), payload)

    @classmethod
    def work(cls, microseconds):
        return cls(f"WORK {microseconds}us", encode("WORK", microseconds), b"OK")

    @classmethod
    def sleep(cls, milliseconds, dialect="connlab"):
        """SLEEP; to redis-server, DEBUG SLEEP (it needs --enable-debug-command yes)."""
        if dialect == "redis":
            return cls(f"SLEEP {milliseconds}ms", encode("DEBUG", "SLEEP", milliseconds / 1000), b"OK")
        return cls(f"SLEEP {milliseconds}ms", encode("SLEEP", milliseconds), b"OK")
