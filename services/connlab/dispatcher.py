"""Dispatchers: how an acceptor hands a new connection to the worker that will serve it."""

import itertools
import threading

from . import tally
from .blocking_reader import serve_connection


class RoundRobin:
    """memcached's dispatch_conn_new: each worker event loop takes the next one in turn
    and keeps it for the connection's life."""

    def __init__(self, loops):
        self._next = itertools.cycle(loops)

    def __call__(self, sock):
        next(self._next).adopt(sock)


class ThreadPerConnection:
    """The textbook design: a new thread for each connection, gone when it closes."""

    def __init__(self, ctx, acceptor_tally):
        self.ctx = ctx
        self.acceptor_tally = acceptor_tally

    def __call__(self, sock):
        self.acceptor_tally.count(tally.THREADS_STARTED)
        threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock):
        with self.ctx.metrics.borrowed("per-connection") as counts:
            serve_connection(sock, counts, self.ctx)
