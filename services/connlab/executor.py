"""Executors: how a reader has the requests it parsed executed. One interface,
execute(conn, requests, received), with two implementations: on the reader's own
thread (`Inline`), or by a `WorkerPool` whose finished replies come back to the
reader's thread (`Pooled`). Made on the reader's thread, which owns what they hold."""

import time

from . import commands, tally
from .lifecycle import State
from .worker import handle


class Inline:
    """Execute on the reader's thread: the event loop is its own worker (Node.js,
    memcached's worker threads), or the blocking reader is."""

    def __init__(self, counts, settings):
        self.counts, self.settings = counts, settings
        self.table = commands.command_table()  # this thread's own (ownership.py)
        self.render = settings.protocol.render

    def __call__(self, conn, requests, received):
        conn.reply_all(handle(requests, received, self.counts, self.settings, self.table, self.render))


class Pooled:
    """Message balancing: each request goes to the pool; when a worker has filled in
    its reply, reply_ready(conn) runs on the reactor's thread."""

    def __init__(self, pool, counts, reactor, reply_ready):
        self.pool, self.counts = pool, counts
        self._call_soon, self._reply_ready = reactor.call_soon, reply_ready

    def __call__(self, conn, requests, received):
        if self.counts.recording:
            self.counts.count(tally.QUEUED, len(requests))
        self.pool.submit(requests, received, time.perf_counter_ns(), conn, self.done)

    def done(self, conn):
        """Called on a worker thread once one of `conn`'s replies is filled in. A late
        reply for a connection already closed is dropped here, where it is produced;
        the reader checks the same connection again, in case it closed meanwhile."""
        if conn.state is not State.CLOSED:
            self._call_soon(self._reply_ready, conn)
