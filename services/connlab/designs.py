"""The table of designs: one record per architecture and mode, and every trait the lab
reads of it. Config, the wirings, the server, the benchmarks, the experiments and the
tests take names and traits from here; adding a design is one record, its wiring
function in architectures.py, a compose service where it is a new ARCH, and its docs.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Design:
    name: str  # what results.json, TARGETS= and the tests call it: the ARCH, or ARCH/mode
    arch: str  # the ARCH setting
    wiring: str  # its function in architectures.py
    dispatch: str  # how a new connection reaches the thread that serves it
    mode: dict = field(default_factory=dict)  # the settings that pick this mode of `arch` (the first record: defaults)
    processes: str | None = None  # the setting that counts its processes (each with its own listener), if several
    pooled: bool = False  # requests (not connections) wait on a pool of worker threads
    blocking: bool = False  # a thread serves one connection at a time with blocking calls
    acceptor: bool = False  # one thread accepts every connection and hands it to the thread that serves it
    workers: int = 4  # WORKERS by default
    reads_workers: bool = True  # False: it has `workers` threads whatever WORKERS says
    lab_settings: dict = field(default_factory=dict)  # what the suites and experiments run it with too
    # A balancing policy beyond the classic designs: `make compare` runs it in the scenarios
    # that ask for policies (`policies = true`) and wherever TARGETS names it.
    policy: bool = False


POOL = {"WORKER_MODEL": "pool"}
DESIGNS = (
    Design("single-thread", "single-thread", "single_thread", "one loop accepts and serves", workers=1,
           reads_workers=False),
    Design("single-acceptor/pool", "single-acceptor", "single_acceptor", "round robin to event loops",
           mode={**POOL, "DISPATCH": "round-robin"}, acceptor=True),
    Design("single-acceptor/per-connection", "single-acceptor", "single_acceptor", "a new thread per connection",
           mode={"WORKER_MODEL": "per-connection"}, blocking=True, acceptor=True),
    Design("single-acceptor/least-connections", "single-acceptor", "single_acceptor",
           "to the loop with the fewest open connections (Envoy's exact_balance)",
           mode={**POOL, "DISPATCH": "least-connections"}, policy=True, acceptor=True),
    Design("single-acceptor/two-choices", "single-acceptor", "single_acceptor",
           "to the less loaded of two loops picked at random (HAProxy)", mode={**POOL, "DISPATCH": "two-choices"},
           policy=True, acceptor=True),
    Design("single-acceptor/steal", "single-acceptor", "single_acceptor",
           "round robin; an idle loop takes connections waiting on a busy one (ZygOS)",
           mode={**POOL, "DISPATCH": "steal"}, policy=True, acceptor=True),
    Design("multi-acceptor/epoll", "multi-acceptor", "multi_acceptor", "every loop waits on the shared socket",
           mode={"ACCEPT_MODE": "epoll"}),
    Design("multi-acceptor/exclusive", "multi-acceptor", "multi_acceptor", "EPOLLEXCLUSIVE: one waiter woken",
           mode={"ACCEPT_MODE": "exclusive"}),
    # A blocking reader serves one connection per thread: enough threads for the 50
    # connections that the suites and benchmarks open.
    Design("multi-acceptor/blocking", "multi-acceptor", "multi_acceptor", "threads blocked in accept(), in order",
           mode={"ACCEPT_MODE": "blocking"}, blocking=True, lab_settings={"WORKERS": "64"}),
    Design("message-balancing", "message-balancing", "message_balancing", "one loop; requests to a shared queue",
           pooled=True),
    Design("socket-sharding", "socket-sharding", "socket_sharding_process", "the kernel's SO_REUSEPORT hash",
           mode={"STEERING": "hash"}, processes="WORKERS"),
    Design("socket-sharding/cpu", "socket-sharding", "socket_sharding_process",
           "SO_REUSEPORT steered by a BPF program: the CPU the connection arrived on", mode={"STEERING": "cpu"},
           processes="WORKERS", policy=True),
    Design("socket-sharding/random", "socket-sharding", "socket_sharding_process",
           "SO_REUSEPORT steered by a BPF program: at random", mode={"STEERING": "random"}, processes="WORKERS",
           policy=True),
    Design("hybrid", "hybrid", "hybrid_process", "SO_REUSEPORT hash; requests to each process's queue",
           processes="PROCESSES", pooled=True, workers=2),
)


def architectures():
    """Every ARCH, in the table's order."""
    return tuple(dict.fromkeys(design.arch for design in DESIGNS))


def choices():
    """{setting: its values} of every setting that picks a mode; the first is the default."""
    found = {}
    for design in DESIGNS:
        for setting, value in design.mode.items():
            found[setting] = tuple(dict.fromkeys((*found.get(setting, ()), value)))
    return found


def of(arch, settings=None):
    """The record of `arch` in the mode that `settings` ({SETTING: value}, defaults
    where absent) picks: the most specific record all of whose mode settings match."""
    settings = {**{k: v[0] for k, v in choices().items()}, **{k: v for k, v in (settings or {}).items() if v}}
    mine = [design for design in DESIGNS if design.arch == arch]
    matching = [d for d in mine if all(settings.get(k) == v for k, v in d.mode.items())]
    return max(matching, key=lambda d: len(d.mode), default=mine[0])


def variants():
    """Every design the lab compares: {name: (ARCH, settings)}. Benchmarks, tests and
    experiments take the list from here."""
    return {d.name: (d.arch, {**d.mode, **d.lab_settings}) for d in DESIGNS}
