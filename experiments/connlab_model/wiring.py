"""A design's wiring, simulated: from its record in the table of designs (its traits, not
its name) to processes and threads on a machine of `cores` cores, driven by closed-loop
connections as `make bench-scaling` drives the real one.

As bench-scaling runs them on N CPUs: WORKERS = N loops (or N pool workers behind one I/O
thread), or N processes of one loop each where the design's processes are counted by
WORKERS, or N processes of the design's own pool where they are counted by PROCESSES.
"""

import random
import statistics
from dataclasses import dataclass

import simpy

from .machine import Machine, Process


@dataclass(frozen=True)
class Load:
    """What each request asks of the thread that executes it."""

    work: float = 0.0  # seconds of CPU (WORK)
    sleep: float = 0.0  # seconds blocked (SLEEP)


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float


# Placements by the SO_REUSEPORT hash averaged over (the kernel's is one draw among many),
# each a quarter of the requests: where connections are few per process the placement
# decides the figure, so many draws, of no more work than four whole runs.
HASH_DRAWS = 16


def simulate(design, cores, load, overhead, *, gil=True, connections=64, workers=None, processes=None,
             requests=4000, warmup=500, seed=1):
    """Requests/s and latency of `design` on `cores` cores under `load`, each request
    costing `overhead` seconds of CPU beyond its command (parse, reply, system calls,
    hand-off: inputs.py reads it from a measurement). `workers` and `processes` are its
    WORKERS and PROCESSES settings; by default bench-scaling's: one per core (a pooled
    design's processes, one per core, keep their own pool).

    A design with a listener per process gets its connections by the kernel's SO_REUSEPORT
    hash, at random: a process may get none while another gets several, so the figures are
    the mean over HASH_DRAWS placements. Every other design spreads them round robin."""
    workers, processes = settings(design, cores, workers, processes)
    hashed = bool(design.processes) and processes > 1
    draws = [_run(design, cores, load, overhead, gil, connections, workers, processes,
                  max(requests // 4, 250) if hashed else requests, warmup, random.Random(seed + draw) if hashed else None)
             for draw in range(HASH_DRAWS if hashed else 1)]  # fmt: skip
    return Result(*(statistics.fmean(figures) for figures in zip(*((r.rps, r.p50_ms, r.p99_ms) for r in draws))))


def settings(design, cores, workers=None, processes=None):
    """(WORKERS, PROCESSES) as given, or bench-scaling's: one per core (a pooled design's
    processes, one per core, keep their own pool)."""
    return (design.workers if design.processes == "PROCESSES" else cores) if workers is None else workers, \
        processes or cores  # fmt: skip


def layout(design, workers, processes):
    """(listening processes, threads that serve in each: loops, or a pool's workers)."""
    count = {"WORKERS": workers, "PROCESSES": processes}.get(design.processes, 1)
    return count, workers if design.reads_workers else design.workers


def _run(design, cores, load, overhead, gil, connections, workers, processes, requests, warmup, hashing):
    """One simulation; `hashing`: a random.Random placing each connection, or None for
    round robin."""
    env = simpy.Environment()
    machine = Machine(env, cores)
    server = _server(design, machine, gil, connections, workers, processes)
    latencies, done = [], env.event()

    def connection(number):
        serve = server[hashing.randrange(len(server)) if hashing else number % len(server)]
        while not done.triggered:
            started = env.now
            yield from serve(load, overhead)
            latencies.append(env.now - started)
            if len(latencies) == warmup:
                marks.append(env.now)
            if len(latencies) >= warmup + requests and not done.triggered:
                done.succeed()

    marks = []
    for number in range(connections):
        env.process(connection(number))
    env.run(until=done)
    measured = latencies[warmup:]
    quantiles = statistics.quantiles(measured, n=100)
    return Result(len(measured) / (env.now - marks[0]), quantiles[49] * 1000, quantiles[98] * 1000)


def _server(design, machine, gil, connections, workers, processes):
    """[serve(load, overhead)] per place a connection may land: a loop, a connection's
    thread, or a process's pool (one place per process where processes listen each)."""
    count, threads = layout(design, workers, processes)
    places = []
    for _ in range(count):
        process = Process(machine, gil)
        if design.pooled:
            places.append(_pooled(process, threads))
        elif design.blocking:
            places += [_inline(process, simpy.Resource(machine.env, 1)) for _ in range(max(1, connections // count))]
        else:
            loops = 1 if design.processes else threads
            places += [_inline(process, simpy.Resource(machine.env, 1)) for _ in range(loops)]
    return places


def _execute(process, load):
    if load.work:
        yield from process.compute(load.work)
    if load.sleep:
        yield from process.block(load.sleep)


def _inline(process, thread):
    """A loop (or a connection's own thread) that reads, executes and replies: a request
    executing blocks the loop's other connections."""

    def serve(load, overhead):
        with thread.request() as turn:
            yield turn
            yield from process.compute(overhead)
            yield from _execute(process, load)

    return serve


def _pooled(process, workers):
    """One I/O thread reads and replies (half the overhead each way); a pool of
    `workers` threads executes."""
    io, pool = simpy.Resource(process.machine.env, 1), simpy.Resource(process.machine.env, workers)

    def serve(load, overhead):
        with io.request() as turn:
            yield turn
            yield from process.compute(overhead / 2)
        with pool.request() as worker:
            yield worker
            yield from _execute(process, load)
        with io.request() as turn:
            yield turn
            yield from process.compute(overhead / 2)

    return serve
