"""The custom parameters, shown in the web UI and accepted headless (Locust's parser).

Every one has a typed default: the web UI converts the form's strings to that type.
"""

import random

from .resp import Command

MODES = ("persistent", "per-request", "idle")
DIALECTS = ("connlab", "redis")


def add_arguments(parser):
    # parser.add_argument, not an argument group's: only Locust's own add_argument marks
    # arguments for the web UI (include_in_web_ui).
    group = parser
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

    def __init__(self, commands, weights):
        if not commands:
            raise ValueError("the command mix has no command with a positive weight")
        self.commands, self.weights = commands, weights
        self._fixed = {}  # depth -> (commands, wire) when the mix has one command

    @classmethod
    def parse(cls, text, echo_bytes=16, work_us=100, sleep_ms=10, dialect="connlab"):
        makers = {
            "PING": Command.ping,
            "ECHO": lambda: Command.echo(echo_bytes),
            "WORK": lambda: Command.work(work_us),
            "SLEEP": lambda: Command.sleep(sleep_ms, dialect),
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
        return cls(commands, weights)

    @classmethod
    def from_options(cls, options):
        return cls.parse(options.mix, options.echo_bytes, options.work_us, options.sleep_ms,
                         getattr(options, "dialect", "connlab"))

    def pick(self, count):
        """The next `count` commands, and their bytes on the wire."""
        if len(self.commands) == 1:  # the same every time: encoded once
            fixed = self._fixed.get(count)
            if fixed is None:
                commands = self.commands * count
                fixed = self._fixed[count] = commands, b"".join(c.wire for c in commands)
            return fixed
        commands = random.choices(self.commands, self.weights, k=count)
        return commands, b"".join(c.wire for c in commands)
