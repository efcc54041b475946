"""RESP2 encoding of commands, and the replies we expect for the lab's commands."""

from dataclasses import dataclass


def encode(*args):
    """One command as a RESP array of bulk strings (what redis-cli and redis-py send)."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


@dataclass(frozen=True)
class Command:
    """A request in the mix: its Locust name, its bytes on the wire, the reply it needs."""

    name: str
    wire: bytes
    expected: object  # the parsed hiredis reply that counts as success

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
