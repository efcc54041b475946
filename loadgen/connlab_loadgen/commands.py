"""The lab's commands as a mix sends them: in any protocol (protocols.py), with the
reply each needs to count as a success (the same whatever the protocol)."""

from dataclasses import dataclass

from . import resp


@dataclass(frozen=True)
class Command:
    """A request in the mix: its Locust name, its bytes on the wire, the reply it needs,
    and its bytes as a connection's last request (`last`; HTTP says Connection: close)."""

    name: str
    wire: bytes
    expected: object  # the decoded reply that counts as success
    last: bytes = None  # None: the same as wire

    def __post_init__(self):
        if self.last is None:
            object.__setattr__(self, "last", self.wire)

    @classmethod
    def of(cls, name, args, expected, codec=resp, host=None):
        return cls(name, codec.request(args, host), expected, codec.request(args, host, close=True))

    @classmethod
    def ping(cls, codec=resp, host=None):
        return cls.of("PING", ("PING",), b"PONG", codec, host)

    @classmethod
    def echo(cls, size, codec=resp, host=None):
        payload = b"x" * size
        return cls.of(f"ECHO {size}B", ("ECHO", payload), payload, codec, host)

    @classmethod
    def work(cls, microseconds, codec=resp, host=None):
        return cls.of(f"WORK {microseconds}us", ("WORK", microseconds), b"OK", codec, host)

    @classmethod
    def sleep(cls, milliseconds, dialect="connlab", codec=resp, host=None):
        """SLEEP; to redis-server, DEBUG SLEEP (it needs --enable-debug-command yes)."""
        if dialect == "redis":
            return cls.of(f"SLEEP {milliseconds}ms", ("DEBUG", "SLEEP", milliseconds / 1000), b"OK", codec, host)
        return cls.of(f"SLEEP {milliseconds}ms", ("SLEEP", milliseconds), b"OK", codec, host)
