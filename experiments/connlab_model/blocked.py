"""A blocked worker (the blocked-worker scenario), simulated: one connection whose
requests block the thread that executes them (`SLEEP`, back to back) while new
connections arrive at random, each accepted, read, answered and closed; what the model
gives is how long each new connection waits from its arrival to its reply (p99, max).

Where a new connection goes is the design's placement, read from its record and mode:
- a shared listening socket (a loop or thread that accepts where it serves): the kernel
  wakes a thread waiting on it, and a thread executing a request is not waiting. Which
  of the waiting ones: the most recently idle (EPOLLEXCLUSIVE wakes the last to wait,
  LIFO), the longest idle (threads blocked in accept(), FIFO), or any (every epoll
  waiter woken, the first to run takes it);
- one acceptor thread hands it on by DISPATCH (dispatcher.py's policies, as there):
  round robin, the fewest open connections, the less loaded of two at random, or round
  robin with idle loops stealing what waits on a loop busy for over STEAL_AFTER; or it
  starts a thread of its own for it;
- a listener per process: the SO_REUSEPORT hash (or a random steering program) picks the
  process, at random per connection; steering by the CPU a connection arrived on needs
  the network's interrupts, which the model does not have;
- a pool: the I/O loop reads and replies, a pool worker executes (and blocks).
A loop takes its events in turn: it accepts (or opens what was handed to it), and reads
the connection on a later turn, each half the connection's CPU; the blocked connection's
next request comes a round trip after its reply (its client's turn, taken as long as the
server's half). So a connection that lands on the blocked loop waits out that SLEEP, is
opened, and is read after the next SLEEP, whose request came in between. On one loop
bench-scaling measured 100 to 300 ms (p10 118, p50 199, p99 302, this 2-CPU machine):
a third SLEEP in half the cases, which the model does not have (it says 100 to 200).
A thread that accepts, reads or replies computes on a core under its process's GIL; one
executing SLEEP blocks, holding neither. Of the clients the model has their schedule
(tail's `users`: Locust's, each opening one connection at a time) and a turn as long as
half the server's CPU per connection; not their CPU, and no network.
"""

import math
import random
from collections import deque
from typing import NamedTuple

import simpy
from connlab.dispatcher import LOOK_EVERY, STEAL_AFTER

from .machine import Machine, Process
from .wiring import layout, settings

ARRIVALS = 4000  # new connections simulated: p99 from forty beyond it
ORDERS = {"exclusive": "lifo", "blocking": "fifo", "epoll": "any"}  # ACCEPT_MODE: which waiting thread wakes


class Tail(NamedTuple):
    p99_ms: float
    max_ms: float


def unmodelled(design):
    """Why the model cannot place `design`'s connections, or None."""
    if design.mode.get("STEERING") == "cpu":
        return "steering by the CPU a connection arrived on: the model has no network interrupts"
    return None


def floors(p99s):
    """{group: the lowest p99 measured in it} from (group, p99) pairs. The model has no
    client's CPU and no network; the lowest tail any design showed in the same cell is
    their share, added to every modelled one (and that design's row is an input)."""
    lowest = {}
    for group, p99 in p99s:
        lowest[group] = min(p99, lowest.get(group, p99))
    return lowest


def tail(design, cores, accept, serve, *, rate=100.0, blocked=0.1, users=None, window=(1.0, 5.0), gil=True,
         workers=None, processes=None, arrivals=ARRIVALS, seed=1):
    """Connect-to-reply p99 and max (ms) of new connections at `rate` per second beside one
    connection whose requests block for `blocked` seconds, back to back. `accept`: the CPU
    the accepting thread spends on each (the acceptor's, where the design has one; else
    the serving thread's, added to `serve`).

    Where they come from: `users` clients, each opening one at a time on a schedule of its
    own (one every users / rate seconds from a random phase, timed from when each was due:
    Locust's users, whose backlog grows where each connection takes longer than that; a
    user behind its schedule opens the next a client's turn after the last reply),
    over `window` (warm-up, measured seconds: what completes in the measured part
    counts); or, without `users`, `arrivals` connections arriving at random, each on its
    own (bench-scaling's open loop)."""
    workers, processes = settings(design, cores, workers, processes)
    env, draw = simpy.Environment(), random.Random(seed)
    machine = Machine(env, cores)
    server = _Server(design, machine, gil, workers, processes, draw, gap=serve / 2)
    waits, begin = [], blocked / 2  # the blocked connection first
    start, end = begin + window[0], begin + sum(window)

    def sleeper():  # its requests back to back, for ever, where it landed
        yield from server.place()(serve, blocked, 0.0)

    def connection(due):
        yield from server.place()(serve, 0.0, accept)
        if not users or start <= env.now <= end:
            waits.append(env.now - due)

    def user(due, interval):
        while due < end:
            yield env.timeout(max(0.0, due - env.now))
            yield from connection(due)
            yield env.timeout(server.gap)  # its own turn before the next, as the blocked connection's client's
            due += interval

    def arrive():
        yield env.timeout(begin)
        for _ in range(arrivals):
            env.process(connection(env.now))
            yield env.timeout(draw.expovariate(rate))

    env.process(sleeper())
    if users:
        for _ in range(users):
            env.process(user(begin + draw.uniform(0, users / rate), users / rate))
        env.run(until=end)
        # What completed in the measured part, as Locust counts it; under a percent of what was
        # due there (at least two) means the tail never came: every thread that could is blocked.
        fewest = max(2.0, rate * window[1] / 100)
    else:
        env.run(until=env.process(arrive()))
        env.run(until=env.now + 5 * blocked)  # the last ones answered (two SLEEPs and more), where they can be
        waits += [math.inf] * (arrivals - len(waits))  # never answered: every thread that could is blocked
        fewest = 2
    if len(waits) < fewest:
        return Tail(math.inf, math.inf)
    waits.sort()
    return Tail(waits[int(len(waits) * 0.99)] * 1000, waits[-1] * 1000)


class _Loop:
    """A thread serving its connections one event at a time (reader.py's loop): what it
    holds (open) and what was handed to it not yet opened (inbox), for the policies."""

    def __init__(self, process):
        self.process = process
        self.thread = simpy.Resource(process.machine.env, 1)
        self.open, self.inbox, self.busy_since = 0, [], 0.0

    @property
    def load(self):
        return self.open + len(self.inbox) + (1 if self.busy_since else 0)

    def run(self, cpu, blocked, socket=None, turn=None):
        """One event on this thread (`turn`: its thread, if already had): `cpu` of
        computing, then `blocked` seconds executing; not waiting on `socket` meanwhile."""
        turn = turn or self.thread.request()
        try:
            yield turn
            if socket:
                socket.leave(self)
            self.busy_since = self.process.machine.env.now or 1e-9
            yield from self.process.compute(cpu)
            yield from self.process.block(blocked)
            self.busy_since = 0.0
            if socket:
                socket.wait(self)
        finally:
            self.thread.release(turn)


class _SharedSocket:
    """A listening socket that threads wait on: a connection goes to a waiting thread
    picked by `order`, or waits in the accept queue for the first to come back."""

    def __init__(self, env, loops, order, draw, batch):
        self.env, self.order, self.draw, self.batch = env, order, draw, batch
        self.waiting, self.queue = list(loops), deque()

    def take(self):
        found = self.env.event()
        if self.waiting:
            index = {"lifo": -1, "fifo": 0}.get(self.order)
            found.succeed(self.waiting.pop(self.draw.randrange(len(self.waiting)) if index is None else index))
        else:
            self.queue.append(found)
        return found

    def leave(self, loop):
        if loop in self.waiting:
            self.waiting.remove(loop)

    def wait(self, loop):
        """`loop` waits again: it takes what the accept queue holds (a loop all of it, accepting
        until the queue is empty; a blocking thread one), or waits for the next."""
        if self.queue:
            for _ in range(len(self.queue) if self.batch else 1):
                self.queue.popleft().succeed(loop)
        elif loop not in self.waiting:
            self.waiting.append(loop)


class _Server:
    """connect(cpu, blocked, accept) per listening socket: a connection placed and served,
    its requests back to back for ever where they block (the blocked connection)."""

    def __init__(self, design, machine, gil, workers, processes, draw, gap):
        self.design, self.env, self.draw, self.gap = design, machine.env, draw, gap
        count, threads = layout(design, workers, processes)
        self.listeners = [self._listener(Process(machine, gil), threads) for _ in range(count)]

    def place(self):
        """The listener the kernel puts a new connection on: at random among the
        processes' own, by the hash."""
        return self.listeners[self.draw.randrange(len(self.listeners))]

    def _listener(self, process, threads):
        design = self.design
        if design.pooled:
            return self._pooled(process, simpy.Resource(self.env, design.workers if design.processes else threads))
        if design.acceptor:
            return self._acceptor(process, threads)
        loops = [_Loop(process) for _ in range(1 if design.processes else threads)]
        socket = _SharedSocket(self.env, loops, ORDERS.get(design.mode.get("ACCEPT_MODE"), "any"), self.draw,
                               batch=not design.blocking)
        if design.blocking:

            def connect(cpu, blocked, accept):  # its thread is its own until it closes
                thread = yield socket.take()
                yield from process.compute(accept)
                yield from _requests(process, cpu, blocked)
                socket.wait(thread)

            return connect

        def connect(cpu, blocked, accept):  # the loop that accepted it reads it on a later turn
            loop = yield socket.take()
            yield from loop.run(accept + cpu / 2, 0.0, socket)
            yield from loop.run(cpu / 2, blocked, socket)
            while blocked:
                yield self.env.timeout(self.gap)
                yield from loop.run(cpu, blocked, socket)

        return connect

    def _pooled(self, process, pool):
        io = _Loop(process)  # it accepts, reads and replies; a pool worker executes

        def connect(cpu, blocked, accept):
            while True:
                yield from io.run(accept + cpu / 2, 0.0)
                with pool.request() as worker:
                    yield worker
                    yield from process.block(blocked)
                yield from io.run(cpu / 2, 0.0)
                if not blocked:
                    return
                accept = 0.0
                yield self.env.timeout(self.gap)

        return connect

    def _acceptor(self, process, threads):
        acceptor = _Loop(process)
        if self.design.blocking:

            def connect(cpu, blocked, accept):  # a thread of its own
                yield from acceptor.run(accept, 0.0)
                yield from _requests(process, cpu, blocked)

            return connect
        policy = _POLICIES[self.design.mode.get("DISPATCH", "round-robin")]([_Loop(process) for _ in range(threads)],
                                                                             self.draw, self.env)  # fmt: skip

        def connect(cpu, blocked, accept):  # handed to a loop, which opens and reads it on its turn
            yield from acceptor.run(accept, 0.0)
            loop, turn = yield from policy.hand(policy.pick())
            yield from loop.run(cpu / 2, 0.0, turn=turn)  # it opens it, and reads it on a later turn
            yield from loop.run(cpu / 2, blocked)
            while blocked:
                yield self.env.timeout(self.gap)
                yield from loop.run(cpu, blocked)
            loop.open -= 1

        return connect


def _requests(process, cpu, blocked):
    """A thread's own connection: one request, or requests that block for ever."""
    while True:
        yield from process.compute(cpu)
        yield from process.block(blocked)
        if not blocked:
            return


class _RoundRobin:
    """dispatcher.py's policies, on the model's loops."""

    def __init__(self, loops, draw, env):
        self.loops, self.draw, self.env, self.turn = loops, draw, env, 0

    def pick(self):
        self.turn += 1
        return self.loops[(self.turn - 1) % len(self.loops)]

    def hand(self, loop):
        """(the loop that opens the connection, its thread's turn or None)."""
        loop.open += 1
        return loop, None
        yield


class _LeastConnections(_RoundRobin):
    def pick(self):
        start = self.loops.index(super().pick())
        return min(self.loops[start:] + self.loops[:start], key=lambda loop: loop.open + len(loop.inbox))


class _TwoChoices(_RoundRobin):
    def pick(self):
        if len(self.loops) < 2:
            return self.loops[0]
        first, second = self.draw.sample(self.loops, 2)
        return first if first.load <= second.load else second


class _Steal(_RoundRobin):
    """Round robin; every loop looks every LOOK_EVERY for connections waiting on a loop
    busy for over STEAL_AFTER, and takes them. (A loop busy at its tick looks at the next;
    dispatcher.py's timer runs as soon as the loop is free, sooner by up to LOOK_EVERY.)"""

    def __init__(self, loops, draw, env):
        super().__init__(loops, draw, env)
        for loop in loops:
            env.process(self._look(loop, draw.uniform(0, LOOK_EVERY)))

    def hand(self, loop):
        turn, stolen = loop.thread.request(), self.env.event()
        loop.inbox.append(stolen)
        found = yield turn | stolen
        if turn in found:
            if stolen in loop.inbox:
                loop.inbox.remove(stolen)
            loop.open += 1
            return loop, turn
        if turn.triggered:  # granted in the same instant as stolen: give it back
            loop.thread.release(turn)
        else:
            turn.cancel()
        stolen.value.open += 1
        return stolen.value, None

    def _look(self, thief, phase):
        yield self.env.timeout(phase)
        while True:
            yield self.env.timeout(LOOK_EVERY)
            if thief.thread.count:  # its timer runs when its loop is free
                continue
            for victim in self.loops:
                if victim is not thief and 0 < victim.busy_since < self.env.now - STEAL_AFTER:
                    while victim.inbox:
                        victim.inbox.pop(0).succeed(thief)


_POLICIES = {"round-robin": _RoundRobin, "least-connections": _LeastConnections, "two-choices": _TwoChoices,
             "steal": _Steal}  # fmt: skip
