"""The model's inputs, all read from measurements: a bench-scaling table (requests/s of
each design under each load at 1, 2, 4, … CPUs, as `make bench-scaling --json` writes
it; the 16-CPU machine's is kept in data/). A design's cost per request beyond its
command comes from its one-CPU figure under the CPU-bound load: on one core a request
takes 1 / rps of it, of which the command's own CPU is known; the rest is the design's.
The other cells are what the model is checked against."""

import json
from pathlib import Path

from .wiring import Load

KEPT = Path(__file__).resolve().parent / "data/scaling-16cpu-python3.12.json"


FIGURES = ("rps", "p99_ms", "max_ms", "server_cpu", "cost_us", "other_share")


def read(path=KEPT):
    """{source, python, gil, connections, loads: {name: Load} of persistent connections'
    requests, new_loads: {name: its spec} of new connections' (connect, PING, close: at
    once, or at a `rate` beside a connection blocking `sleep_ms`), rps: {arch: {load:
    {cpus: rps}}}, and in the same shape p99_ms, max_ms, server_cpu (CPUs used), cost_us
    (server CPU per new connection) and other_share (its share in threads of no role),
    each {} where the table has none}."""
    data = json.loads(Path(path).read_text())
    data["new_loads"] = {name: spec for name, spec in data["loads"].items() if spec.get("new")}
    data["loads"] = {name: Load(work=spec.get("work_us", 0) / 1e6, sleep=spec.get("sleep_ms", 0) / 1e3)
                     for name, spec in data["loads"].items() if not spec.get("new")}  # fmt: skip
    for figure in FIGURES:  # tables from before bench-scaling measured latency or new connections have less
        data[figure] = {arch: {load: {int(cpus): value for cpus, value in cells.items()} for load, cells in by_load.items()}
                        for arch, by_load in data.get(figure, {}).items()}  # fmt: skip
    return data


def cpu_bound(data):
    """The name of the load whose requests compute (and do not sleep): the input's; None
    where the table has none."""
    return next((name for name, load in data["loads"].items() if load.work and not load.sleep), None)


def overheads(data):
    """{arch: seconds of CPU per request beyond the command}, from each design's one-CPU
    figure under the CPU-bound load."""
    cpu_bound_ = cpu_bound(data)
    if cpu_bound_ is None:
        return {}
    work = data["loads"][cpu_bound_].work
    return {arch: 1 / by_load[cpu_bound_][1] - work for arch, by_load in data["rps"].items()
            if 1 in by_load.get(cpu_bound_, {})}  # fmt: skip
