"""Dispatchers: how an acceptor hands a new connection to the worker that will serve it."""

import itertools
import threading

from .reader import serve_connection


class RoundRobin:
    """memcached's dispatch_conn_new: each worker event loop takes the next one in turn
    and keeps it for the connection's life."""

    def __init__(self, loops):
        self._next = itertools.cycle(loops)

    def __call__(self, sock):
        next(self._next).adopt(sock)


class ThreadPerConnection:
    """The textbook design: a new thread for each connection, gone when it closes."""

    def __init__(self, ctx):
        self.ctx = ctx

    def __call__(self, sock):
        self.ctx.metrics.threads_started.inc()
        threading.Thread(target=serve_connection, args=(sock, "per-connection", self.ctx), daemon=True).start()
