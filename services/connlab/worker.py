"""Workers: the role that executes requests.

`handle` runs the requests of one read on the calling thread and records them.
`WorkerPool` is the message-balancing worker: threads that take parsed requests from one
queue, one at a time, so a slow request occupies one worker and not the connection's
reader.
"""

import queue
import threading
from time import perf_counter_ns

from . import commands, threads
from .tally import EXECUTES


def handle(requests, received, tally, info, table, render):
    """Execute `requests`, read together at perf_counter_ns `received`, in order on the
    calling thread with its `table` (commands.command_table()); record them in `tally`
    (that thread's own); return their replies, rendered by `render` (the protocol's).

    Their replies leave together, in one write, once the last is done: that moment is
    when each reply is ready to send, so one clock reading times them all."""
    execute = commands.execute
    if not tally.recording:
        return [render(execute(request, info, table)[1], request) for request in requests]
    replies, labels = [], []
    reply_to, label = replies.append, labels.append  # the hot loop: no lookups in it
    for request in requests:
        command, result = execute(request, info, table)
        reply_to(render(result, request))
        label(command)
    tally.requests_done(labels, perf_counter_ns() - received)
    return replies


class WorkerPool:
    """Threads that execute requests handed over by a reader, in any order."""

    def __init__(self, ctx, size, prefix=""):
        self.ctx = ctx
        self._queue = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._run, args=(f"{prefix}{i}",), name=f"worker-{prefix}{i}", daemon=True)
            for i in range(size)
        ]

    def start(self):
        for thread in self._threads:
            thread.start()

    def submit(self, requests, received, queued, conn, done):
        """Queue `requests` of `conn`, read at `received` and queued at `queued`
        (perf_counter_ns), one by one; a worker fills in each reply's slot, rendered by
        the protocol, then calls done(conn)."""
        put = self._queue.put
        for request in requests:
            put((request, received, queued, conn, conn.reply_later(), done))

    def _run(self, name):
        threads.name_this_thread(f"worker-{name}")
        threads.lower_this_thread(self.ctx.settings.worker_nice)
        tally, info, execute, clock = self.ctx.metrics.tally(name, EXECUTES), self.ctx.settings, commands.execute, perf_counter_ns
        # The protocol's render, taken once: on 3.13t reading it through each request's
        # connection, an object of another thread, made the hand-off 10 % slower.
        table, render = commands.command_table(), self.ctx.settings.protocol.render
        while True:
            request, received, queued, conn, slot, done = self._queue.get()
            if tally.recording:
                taken = clock()
                label, result = execute(request, info, table)
                slot.reply = render(result, request)
                tally.request_done(label, clock() - received, taken - queued)
            else:
                slot.reply = render(execute(request, info, table)[1], request)
            done(conn)
