"""The command set: what a request does, independent of who runs it and of the protocol
that carries it.

`execute` is called on whichever thread the architecture picks to do the work; WORK and
SLEEP occupy exactly that thread, which is what makes the architectures differ. A
command's result is one of the few kinds below, which the connection's protocol renders
(protocols/).
"""

import time

from .ownership import mine

# What redis-benchmark asks for at start; any other parameter is unknown (empty reply).
_CONFIG = {b"save": b"", b"appendonly": b"no"}


# Results: a Status, bytes (a payload), an int, a list of results, an Error, or a Closing.
class Status(str):
    """A short fixed answer (OK, PONG)."""


class Error(str):
    """An error; its first word is its kind (ERR, NOPROTO), as Redis writes them. The
    connection stays usable."""


class Closing:
    """A reply after which the connection closes (QUIT, malformed framing): a result,
    and once rendered, its bytes."""

    __slots__ = ("reply",)

    def __init__(self, reply):
        self.reply = reply


OK, PONG = Status("OK"), Status("PONG")


class ArgumentError(Exception):
    pass


def _count(args, low, high, name):
    if not low <= len(args) <= high:
        raise ArgumentError(f"wrong number of arguments for '{name}' command")


def _non_negative(raw, what):
    try:
        value = int(raw)
    except ValueError:
        raise ArgumentError(f"{what} is not an integer: '{raw.decode(errors='replace')}'") from None
    if value < 0:
        raise ArgumentError(f"{what} must not be negative")
    return value


def burn_cpu(microseconds):
    """Spin on this thread until it has used `microseconds` of its own CPU time."""
    deadline = time.thread_time_ns() + microseconds * 1000
    while time.thread_time_ns() < deadline:
        pass


def _ping(args, info):
    if not args:
        return PONG
    _count(args, 0, 1, "ping")
    return args[0]


def _echo(args, info):
    _count(args, 1, 1, "echo")
    return args[0]


def _work(args, info):
    _count(args, 1, 1, "work")
    burn_cpu(_non_negative(args[0], "microseconds"))
    return OK


def _sleep(args, info):
    _count(args, 1, 1, "sleep")
    time.sleep(_non_negative(args[0], "milliseconds") / 1000)
    return OK


def _info(args, info):
    _count(args, 0, 1, "info")
    text = "".join(f"{key}:{value}\r\n" for key, value in info.fields().items())
    return text.encode()


def _command(args, info):
    return []  # redis-cli asks for COMMAND DOCS; it copes with none


def _hello(args, info):
    """Protocol negotiation: RESP2 only, as a Redis server without RESP3 answers."""
    _count(args, 0, 1, "hello")
    if args and args[0] != b"2":
        return Error("NOPROTO this server speaks RESP2 only (redis-py >= 8: pass protocol=2)")
    return [b"server", b"connlab", b"proto", 2]


def _config(args, info):
    if len(args) != 2 or args[0].lower() != b"get":
        raise ArgumentError("only CONFIG GET <parameter> is supported")
    name = args[1].lower()
    return [name, _CONFIG[name]] if name in _CONFIG else []


def _quit(args, info):
    return Closing(OK)


HANDLERS = {
    b"PING": _ping,
    b"ECHO": _echo,
    b"WORK": _work,
    b"SLEEP": _sleep,
    b"INFO": _info,
    b"COMMAND": _command,
    b"CONFIG": _config,
    b"HELLO": _hello,
    b"QUIT": _quit,
}
NAMES = frozenset(HANDLERS)
# Metric labels: a known command's name, or "unknown" (request names are unbounded).
LABELS = {name: name.decode() for name in NAMES}
METRIC_LABELS = (*sorted(LABELS.values()), "unknown")
# name -> (label, handler), in upper and lower case: most clients send one of the two.
_DISPATCH = {spelling: (LABELS[name], handler) for name, handler in HANDLERS.items() for spelling in (name, name.lower())}


def command_table():
    """This thread's own command table, for execute (see ownership.py)."""
    return mine(_DISPATCH)


def execute(request, info, table=None):
    """Run `request` (`table`: this thread's command_table()); return its metric label
    and its result, for the connection's protocol to render."""
    table = table or command_table()
    name = request[0]
    found = table.get(name) or table.get(name.upper())
    if found is None:
        shown = name[:128].decode(errors="replace")
        return "unknown", Error(f"ERR unknown command '{shown}'")
    label, handler = found
    try:
        return label, handler(request[1:], info)
    except ArgumentError as exc:
        return label, Error(f"ERR {exc}")
