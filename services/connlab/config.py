"""Settings, read once from the environment, with a clear error for a bad value."""

import os
from dataclasses import dataclass, field

from . import designs, interpreter, protocols
from .designs import variants  # noqa: F401  (the lab's list of designs, read from here)

_RESP = protocols.PROTOCOLS["resp"]

ARCHITECTURES = designs.architectures()


def server_image(python="3.13", tag=os.environ.get("CONNLAB_TAG", "latest")):
    """The server image of a build, as scripts/images.sh tags it (the tools read it here):
    connlab/server:<tag>, with -3.13t or -3.14t for a free-threaded one."""
    return f"connlab/server:{tag}" + ("" if python == "3.13" else f"-{python}")


class ConfigError(Exception):
    pass


def _int(env, name, default, low=1, high=None):
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if value < low:
        raise ConfigError(f"{name}={value} must be at least {low}")
    if high is not None and value > high:
        raise ConfigError(f"{name}={value} must be at most {high}")
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
    dispatch: str = "round-robin"  # how single-acceptor's acceptor picks a loop (designs.py)
    steering: str = "hash"  # which SO_REUSEPORT socket takes a new connection (steering.py)
    protocol: type = _RESP  # the class that speaks it (protocols/), PROTOCOL by name
    limits: object = field(default_factory=_RESP.Limits)  # the protocol's, from MAX_* settings
    max_connections: int = 10000  # open connections, all processes together
    idle_timeout: float = 300.0  # seconds without a request; 0 keeps idle ones forever
    shutdown_grace: float = 5.0  # seconds to finish work in hand after SIGTERM
    max_pending: int = 1024  # requests in flight on one connection before reading pauses
    worker_nice: int = 0  # a pool worker's nice value (threads.py); 0: the I/O thread's
    # TCP keepalive (idle, interval, probes), Redis's tcp-keepalive: a peer gone without FIN
    # is found after idle + interval * probes seconds. Idle 0 turns it off.
    keepalive: tuple = (300, 100, 3)
    request_metrics: bool = True  # False only for bench-server: what accounting costs

    @classmethod
    def from_env(cls, env=os.environ):
        arch = _choice(env, "ARCH", designs.architectures())
        design = designs.of(arch)
        modes = designs.choices()  # {setting: its values}, read now: the table may grow
        workers = _int(env, "WORKERS", design.workers)  # checked for every ARCH, even one with a fixed count
        protocol = protocols.PROTOCOLS[_choice(env, "PROTOCOL", tuple(protocols.PROTOCOLS))]
        return cls(
            arch=arch,
            host=env.get("HOST", "0.0.0.0"),
            port=_int(env, "PORT", 7000),
            metrics_port=_int(env, "METRICS_PORT", 8000),
            backlog=_int(env, "BACKLOG", 1024),
            workers=workers if design.reads_workers else design.workers,
            processes=_int(env, "PROCESSES", 2),
            worker_model=_choice(env, "WORKER_MODEL", modes["WORKER_MODEL"]),
            accept_mode=_choice(env, "ACCEPT_MODE", modes["ACCEPT_MODE"]),
            dispatch=_choice(env, "DISPATCH", modes["DISPATCH"]),
            steering=_choice(env, "STEERING", modes["STEERING"]),
            protocol=protocol,
            limits=protocol.Limits(**{
                name: _int(env, name.upper(), default) for name, default in protocol.Limits._field_defaults.items()
            }),
            max_connections=_int(env, "MAX_CONNECTIONS", cls.max_connections),
            idle_timeout=_int(env, "IDLE_TIMEOUT", int(cls.idle_timeout), low=0),
            shutdown_grace=_int(env, "SHUTDOWN_GRACE", int(cls.shutdown_grace), low=0),
            max_pending=_int(env, "MAX_PENDING", cls.max_pending),
            worker_nice=_int(env, "WORKER_NICE", cls.worker_nice, low=0, high=19),
            keepalive=(
                _int(env, "KEEPALIVE_IDLE", cls.keepalive[0], low=0),
                _int(env, "KEEPALIVE_INTERVAL", cls.keepalive[1]),
                _int(env, "KEEPALIVE_COUNT", cls.keepalive[2]),
            ),
            request_metrics=_choice(env, "REQUEST_METRICS", ("1", "0")) == "1",
        )

    @property
    def design(self):
        """This server's record in the table of designs."""
        return designs.of(self.arch, {setting: getattr(self, setting.lower()) for setting in designs.choices()})

    def describe(self):
        """The settings that shape this architecture, for INFO and the info metric."""
        design = self.design
        workers = self.workers if design.reads_workers else design.workers
        fields = {"arch": self.arch, "protocol": self.protocol.name, "workers": str(workers)}
        if design.processes == "PROCESSES":
            fields["processes"] = str(self.processes)
        for setting in design.mode:
            fields[setting.lower()] = getattr(self, setting.lower())
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
            **{name: str(value) for name, value in self.limits._asdict().items()},
            "max_connections": str(self.max_connections),
            "idle_timeout": str(self.idle_timeout),
            "shutdown_grace": str(self.shutdown_grace),
            "max_pending": str(self.max_pending),
            "worker_nice": str(self.worker_nice),
            "keepalive": ",".join(map(str, self.keepalive)),
        }
