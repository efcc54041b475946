"""Dispatchers: how an acceptor hands a new connection to the worker that will serve it.

The single acceptor's policies (DISPATCH, designs.py) pick one of its event loops:
round robin (memcached), the fewest open connections (Envoy's exact_balance), the less
loaded of two picked at random (HAProxy), or round robin with stealing (ZygOS, at
connection granularity). A loop's load is what it holds: its open connections and those
handed to it not yet opened, plus one while it is executing a request
(`connlab_worker_load`).
"""

import functools
import itertools
import random
import threading
import time

from . import tally, threads
from .blocking_reader import serve_connection

STEAL_AFTER = 0.005  # seconds a loop must have been busy before others take its waiting connections
LOOK_EVERY = STEAL_AFTER / 2  # how often each loop looks: a connection waits at most about both


class RoundRobin:
    """memcached's dispatch_conn_new: each worker event loop takes the next one in turn
    and keeps it for the connection's life."""

    def __init__(self, loops):
        self.loops = loops
        self._turn = itertools.cycle(range(len(loops)))

    def pick(self):
        return self.loops[next(self._turn)]

    def __call__(self, sock):
        self.pick().adopt(sock)


class LeastConnections(RoundRobin):
    """Envoy's exact_balance: the loop with the fewest connections; ties taken in turn,
    so that idle loops share the short connections."""

    def pick(self):
        start = next(self._turn)
        ordered = self.loops[start:] + self.loops[:start]
        return min(ordered, key=lambda loop: loop.open_connections)


class TwoChoices(RoundRobin):
    """HAProxy's: of two loops picked at random, the less loaded (the power of two
    choices: nearly the best loop's wait, at the cost of two looks)."""

    def __init__(self, loops):
        super().__init__(loops)
        self._random = random.Random()
        for loop in loops:
            loop.track_busy = True

    def pick(self):
        if len(self.loops) < 2:
            return self.loops[0]
        first, second = self._random.sample(self.loops, 2)
        return first if first.load <= second.load else second


class Steal(RoundRobin):
    """Round robin, and every loop looks every LOOK_EVERY seconds for connections handed
    to a loop that has been busy for over STEAL_AFTER and not yet opened: it takes them."""

    def __init__(self, loops):
        super().__init__(loops)
        for loop in loops:
            loop.track_busy = True
            # Before the loops run: no other thread touches their timers yet.
            loop.reactor.call_later(LOOK_EVERY, functools.partial(self.look, loop))

    def look(self, thief):
        """On `thief`'s thread: take what waits on the loops busy for over STEAL_AFTER."""
        busy_since = time.monotonic() - STEAL_AFTER
        for victim in self.loops:
            while victim is not thief and 0 < victim.busy_since < busy_since:
                try:
                    sock = victim.inbox.popleft()
                except IndexError:  # empty, or its own loop or another thief took it first
                    break
                thief.open(sock)
        thief.reactor.call_later(LOOK_EVERY, functools.partial(self.look, thief))


POLICIES = {"round-robin": RoundRobin, "least-connections": LeastConnections, "two-choices": TwoChoices,
            "steal": Steal}  # fmt: skip


class ThreadPerConnection:
    """The textbook design: a new thread for each connection, gone when it closes."""

    def __init__(self, ctx, acceptor_tally):
        self.ctx = ctx
        self.acceptor_tally = acceptor_tally

    def __call__(self, sock):
        self.acceptor_tally.count(tally.THREADS_STARTED)
        threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock):
        threads.name_this_thread("connection")
        with self.ctx.metrics.borrowed("per-connection") as counts:
            serve_connection(sock, counts, self.ctx)
