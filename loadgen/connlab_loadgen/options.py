"""The custom parameters, shown in the web UI and accepted headless (Locust's parser).

Every one has a typed default: the web UI converts the form's strings to that type.
"""

import os
import random

from . import protocols
from .commands import Command

MODES = ("persistent", "per-request", "idle")
DIALECTS = ("connlab", "redis")


def default_protocol(environ=os.environ):
    """PROTOCOL, as the server reads it (compose gives both the same), else resp."""
    name = environ.get("PROTOCOL") or protocols.NAMES[0]
    protocols.codec(name)  # an unknown one is an error now, not in every user later
    return name


def add_arguments(parser):
    # parser.add_argument, not an argument group's: only Locust's own add_argument marks
    # arguments for the web UI (include_in_web_ui).
    group = parser
    # Not env_var="PROTOCOL": compose passes it empty when unset, which is no choice.
    group.add_argument("--protocol", type=str, default=default_protocol(), choices=protocols.NAMES,
                       help="What the server speaks (its PROTOCOL): resp, or http (PING is GET /ping, "
                            "ECHO POST /echo, ...; docs/measuring.md)")
    group.add_argument("--mix", type=str, default="PING:1",
                       env_var="LOADGEN_MIX",
                       help="Command weights, e.g. PING:8,ECHO:1,WORK:1,SLEEP:0")
    group.add_argument("--echo-bytes", type=int, default=16, env_var="LOADGEN_ECHO_BYTES",
                       help="ECHO payload size in bytes")
    group.add_argument("--work-us", type=int, default=100, env_var="LOADGEN_WORK_US",
                       help="WORK argument: CPU the server burns per request, microseconds")
    group.add_argument("--sleep-ms", type=int, default=10, env_var="LOADGEN_SLEEP_MS",
                       help="SLEEP argument: time the server waits per request, milliseconds")
    group.add_argument("--connection-mode", type=str, default="persistent", choices=MODES,
                       env_var="LOADGEN_CONNECTION_MODE",
                       help="persistent: one connection per user; per-request: connect, one "
                            "request, close; idle: hold connections, rare requests (C10K)")
    group.add_argument("--idle-interval", type=float, default=10.0, env_var="LOADGEN_IDLE_INTERVAL",
                       help="idle mode: seconds between a user's requests")
    group.add_argument("--pipeline", type=int, default=1, env_var="LOADGEN_PIPELINE",
                       help="Requests written before reading their replies (each recorded singly)")
    group.add_argument("--rate", type=float, default=0.0, env_var="LOADGEN_RATE",
                       help="Target requests/s over all users (open loop, latency from the "
                            "scheduled send time); 0 = closed loop, as fast as replies come")
    group.add_argument("--request-timeout", type=float, default=5.0, env_var="LOADGEN_REQUEST_TIMEOUT",
                       help="Seconds to wait for a connect or a reply")
    group.add_argument("--dialect", type=str, default="connlab", choices=DIALECTS, env_var="LOADGEN_DIALECT",
                       help="redis: the server is redis-server: SLEEP goes as DEBUG SLEEP, and WORK has no "
                            "equivalent")


class Mix:
    """The weighted command mix: picks the next requests."""

    def __init__(self, commands, weights, closing=False):
        if not commands:
            raise ValueError("the command mix has no command with a positive weight")
        self.commands, self.weights = commands, weights
        self.closing = closing  # each pick ends its connection: its last request says so
        self._fixed = {}  # depth -> (commands, wire) when the mix has one command

    @classmethod
    def parse(cls, text, echo_bytes=16, work_us=100, sleep_ms=10, dialect="connlab", protocol="resp",
              host=None, closing=False):
        """The mix `text` in `protocol`, its requests to `host` (a name HTTP's Host says);
        `closing`: each pick is a connection's last (per-request mode)."""
        codec = protocols.codec(protocol)
        if dialect == "redis" and codec.NAME != "resp":
            raise ValueError(f"dialect redis is redis-server's RESP; protocol {protocol!r} has none")
        makers = {
            "PING": lambda: Command.ping(codec, host),
            "ECHO": lambda: Command.echo(echo_bytes, codec, host),
            "WORK": lambda: Command.work(work_us, codec, host),
            "SLEEP": lambda: Command.sleep(sleep_ms, dialect, codec, host),
        }
        if dialect == "redis":
            del makers["WORK"]  # redis-server has no command that burns a given CPU time
        commands, weights = [], []
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, _, weight = item.partition(":")
            name = name.strip().upper()
            if name not in makers:
                raise ValueError(f"unknown command {name!r} in mix {text!r} (known: {', '.join(makers)})")
            weight = float(weight) if weight.strip() else 1.0
            if weight < 0:
                raise ValueError(f"negative weight for {name} in mix {text!r}")
            if weight > 0:
                commands.append(makers[name]())
                weights.append(weight)
        return cls(commands, weights, closing)

    @classmethod
    def from_options(cls, options, host=None):
        return cls.parse(options.mix, options.echo_bytes, options.work_us, options.sleep_ms,
                         getattr(options, "dialect", "connlab"), getattr(options, "protocol", "resp"),
                         host, options.connection_mode == "per-request")

    def pick(self, count):
        """The next `count` commands, and their bytes on the wire."""
        if len(self.commands) == 1:  # the same every time: encoded once
            fixed = self._fixed.get(count)
            if fixed is None:
                commands = self.commands * count
                fixed = self._fixed[count] = commands, self._wire(commands)
            return fixed
        commands = random.choices(self.commands, self.weights, k=count)
        return commands, self._wire(commands)

    def _wire(self, commands):
        if self.closing:
            return b"".join([*(c.wire for c in commands[:-1]), commands[-1].last])
        return b"".join(c.wire for c in commands)
