"""New connections, one request each (the accept-storm scenario), simulated: how many a
design sustains per second on `cores` cores, from what each connection cost where the
lab measured it.

A connection arrives (at random: many users, each on its own schedule), waits in its
listening socket's accept queue, and is accepted by the thread that accepts: the
design's one acceptor thread, which then hands it on (`accept` seconds of CPU), or else
the thread that serves it. That thread reads its request, replies and
closes (`serve` seconds; with a pool, the I/O thread's half each way around it). Which
thread serves it: the next loop in turn after an acceptor; any free one where every loop
(or thread blocked in accept()) waits on one shared socket; a new thread where the
acceptor starts one per connection; with a listener per process, the kernel's
SO_REUSEPORT hash picks the process, at random per connection.

What it sustains is its capacity: the rate it serves when connections arrive faster
than that. A knee of 25 ms in p99 (the scenario's) is a queue of a hundred connections
or more at these costs, reached within a few per cent of the capacity; the model has no
client and no network, whose share at these rates is far below it.
"""

import itertools
import random

import simpy

from .machine import Machine, Process
from .wiring import layout, settings

ARRIVALS = 2000  # connections simulated
OVERLOAD = 2.0  # arrivals at twice what the cores could do with no wait at all


def capacity(design, cores, accept, serve, *, gil=True, workers=None, processes=None, arrivals=ARRIVALS, seed=1):
    """New connections/s `design` serves on `cores` cores when more arrive than it can
    take (`workers` and `processes` as in wiring.simulate): completions counted from the
    first fifth of them to the third, while arrivals go on and every thread on the way
    has a queue."""
    workers, processes = settings(design, cores, workers, processes)
    env, draw = simpy.Environment(), random.Random(seed)
    listeners = _listeners(design, Machine(env, cores), gil, workers, processes)
    rate, finished = OVERLOAD * cores / (accept + serve), []

    def connection():
        yield from listeners[draw.randrange(len(listeners))](accept, serve)
        finished.append(env.now)

    def arrive():
        for _ in range(arrivals):
            env.process(connection())
            yield env.timeout(draw.expovariate(rate))

    env.process(arrive())
    env.run()
    first, last = arrivals // 5, arrivals * 3 // 5
    return (last - first) / (finished[last] - finished[first])


def _listeners(design, machine, gil, workers, processes):
    """[take(accept, serve)] per listening socket: one, or one per process."""
    count, threads = layout(design, workers, processes)
    return [_listener(design, Process(machine, gil), 1 if design.processes and not design.pooled else threads)
            for _ in range(count)]  # fmt: skip


def _listener(design, process, threads):
    env = process.machine.env
    if design.pooled:  # one I/O thread accepts, reads and replies; the pool's work is PING's (none)
        io = simpy.Resource(env, 1)

        def take(accept, serve):
            with io.request() as turn:
                yield turn
                yield from process.compute(accept + serve / 2)
            with io.request() as turn:
                yield turn
                yield from process.compute(serve / 2)

        return take
    if design.acceptor:
        acceptor = simpy.Resource(env, 1)
        loops = itertools.cycle([simpy.Resource(env, 1) for _ in range(threads)])

        def take(accept, serve):
            with acceptor.request() as turn:
                yield turn
                yield from process.compute(accept)
            if design.blocking:  # a thread of its own
                yield from process.compute(serve)
                return
            with next(loops).request() as turn:
                yield turn
                yield from process.compute(serve)

        return take
    waiting = simpy.Resource(env, threads)  # every loop or thread waits on the shared socket

    def take(accept, serve):
        with waiting.request() as turn:
            yield turn
            yield from process.compute(accept + serve)

    return take
