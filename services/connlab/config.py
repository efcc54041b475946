"""Settings, read once from the environment, with a clear error for a bad value."""

import os
from dataclasses import dataclass, field

from . import interpreter
from .protocol import Limits

ARCHITECTURES = (
    "single-thread",
    "single-acceptor",
    "multi-acceptor",
    "message-balancing",
    "socket-sharding",
    "hybrid",
)
WORKER_MODELS = ("pool", "per-connection")
ACCEPT_MODES = ("epoll", "exclusive", "blocking")
# The setting that picks an architecture's mode, and its choices (the first is the default).
MODES = {"single-acceptor": ("WORKER_MODEL", WORKER_MODELS), "multi-acceptor": ("ACCEPT_MODE", ACCEPT_MODES)}
# A blocking reader serves one connection per thread: enough threads for the 50
# connections that the suites and benchmarks open.
_VARIANT_SETTINGS = {"multi-acceptor/blocking": {"WORKERS": "64"}}


def variants():
    """Every architecture and mode the lab compares: {name: (ARCH, settings)}, named
    `arch` or, where a mode applies, `arch/mode`. Benchmarks, tests and experiments take
    the list from here."""
    found = {}
    for arch in ARCHITECTURES:
        if arch not in MODES:
            found[arch] = (arch, {})
            continue
        setting, choices = MODES[arch]
        for choice in choices:
            name = f"{arch}/{choice}"
            found[name] = (arch, {setting: choice, **_VARIANT_SETTINGS.get(name, {})})
    return found


class ConfigError(Exception):
    pass


def _int(env, name, default, low=1):
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if value < low:
        raise ConfigError(f"{name}={value} must be at least {low}")
    return value


def _choice(env, name, choices):
    value = env.get(name, "") or choices[0]
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not one of: {', '.join(choices)}")
    return value


def cpu_set(text):
    """The CPUs of a cpuset list as Linux and Docker write it (`0-2,5`)."""
    cpus = set()
    for part in filter(None, text.replace(" ", "").split(",")):
        low, _, high = part.partition("-")
        cpus.update(range(int(low), int(high or low) + 1))
    return cpus


def cpu_list(cpus):
    """Format a CPU set as Linux does (`0-2,5`), the form cpuset and INFO use."""
    ranges, start = [], None
    ordered = sorted(cpus)
    for i, cpu in enumerate(ordered):
        if start is None:
            start = cpu
        if i + 1 == len(ordered) or ordered[i + 1] != cpu + 1:
            ranges.append(str(start) if start == cpu else f"{start}-{cpu}")
            start = None
    return ",".join(ranges)


@dataclass(frozen=True)
class Settings:
    arch: str = "single-thread"
    host: str = "0.0.0.0"
    port: int = 7000
    metrics_port: int = 8000
    backlog: int = 1024
    workers: int = 4
    processes: int = 2
    worker_model: str = "pool"
    accept_mode: str = "epoll"
    limits: Limits = field(default_factory=Limits)
    max_connections: int = 10000  # open connections, all processes together
    idle_timeout: float = 300.0  # seconds without a request; 0 keeps idle ones forever
    shutdown_grace: float = 5.0  # seconds to finish work in hand after SIGTERM
    max_pending: int = 1024  # requests in flight on one connection before reading pauses
    # TCP keepalive (idle, interval, probes), Redis's tcp-keepalive: a peer gone without FIN
    # is found after idle + interval * probes seconds. Idle 0 turns it off.
    keepalive: tuple = (300, 100, 3)
    request_metrics: bool = True  # False only for bench-server: what accounting costs

    @classmethod
    def from_env(cls, env=os.environ):
        arch = _choice(env, "ARCH", ARCHITECTURES)
        return cls(
            arch=arch,
            host=env.get("HOST", "0.0.0.0"),
            port=_int(env, "PORT", 7000),
            metrics_port=_int(env, "METRICS_PORT", 8000),
            backlog=_int(env, "BACKLOG", 1024),
            workers=_int(env, "WORKERS", 2 if arch == "hybrid" else 4),
            processes=_int(env, "PROCESSES", 2),
            worker_model=_choice(env, "WORKER_MODEL", WORKER_MODELS),
            accept_mode=_choice(env, "ACCEPT_MODE", ACCEPT_MODES),
            limits=Limits(
                max_bulk=_int(env, "MAX_BULK", Limits.max_bulk),
                max_array=_int(env, "MAX_ARRAY", Limits.max_array),
                max_inline=_int(env, "MAX_INLINE", Limits.max_inline),
            ),
            max_connections=_int(env, "MAX_CONNECTIONS", cls.max_connections),
            idle_timeout=_int(env, "IDLE_TIMEOUT", int(cls.idle_timeout), low=0),
            shutdown_grace=_int(env, "SHUTDOWN_GRACE", int(cls.shutdown_grace), low=0),
            max_pending=_int(env, "MAX_PENDING", cls.max_pending),
            keepalive=(
                _int(env, "KEEPALIVE_IDLE", cls.keepalive[0], low=0),
                _int(env, "KEEPALIVE_INTERVAL", cls.keepalive[1]),
                _int(env, "KEEPALIVE_COUNT", cls.keepalive[2]),
            ),
            request_metrics=_choice(env, "REQUEST_METRICS", ("1", "0")) == "1",
        )

    def describe(self):
        """The settings that shape this architecture, for INFO and the info metric."""
        fields = {"arch": self.arch, "workers": str(self.workers)}
        if self.arch == "single-thread":
            fields["workers"] = "1"
        if self.arch == "hybrid":
            fields["processes"] = str(self.processes)
        if self.arch == "single-acceptor":
            fields["worker_model"] = self.worker_model
        if self.arch == "multi-acceptor":
            fields["accept_mode"] = self.accept_mode
        return fields

    def fields(self):
        """INFO's key:value lines."""
        return {
            **self.describe(),
            "pid": str(os.getpid()),
            "python": interpreter.version(),
            "gil": interpreter.gil(),
            "cpus": cpu_list(os.sched_getaffinity(0)),
            "port": str(self.port),
            "max_bulk": str(self.limits.max_bulk),
            "max_array": str(self.limits.max_array),
            "max_inline": str(self.limits.max_inline),
            "max_connections": str(self.max_connections),
            "idle_timeout": str(self.idle_timeout),
            "shutdown_grace": str(self.shutdown_grace),
            "max_pending": str(self.max_pending),
            "keepalive": ",".join(map(str, self.keepalive)),
        }
