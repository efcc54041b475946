"""Workers: the role that executes requests.

`handle` runs one request on the calling thread and records it. `WorkerPool` is the
message-balancing worker: threads that take parsed requests from one queue, so a slow
request occupies one worker and not the connection's reader.
"""

import queue
import threading
import time

from . import commands


def handle(request, received, worker, ctx):
    """Execute `request` (read at perf_counter `received`) and record it."""
    label, reply = commands.execute(request, ctx.settings)
    ctx.metrics.request_done(label, worker, time.perf_counter() - received)
    return reply


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

    def submit(self, request, received, slot, done):
        """Queue a request; `done()` is called (on the worker) once `slot.reply` is set."""
        self.ctx.metrics.queue_depth.inc()
        self._queue.put((request, received, slot, done, time.perf_counter()))

    def _run(self, name):
        metrics = self.ctx.metrics
        while True:
            request, received, slot, done, queued = self._queue.get()
            metrics.queue_depth.dec()
            metrics.queue_wait.observe(time.perf_counter() - queued)
            slot.reply = handle(request, received, name, self.ctx)
            done()
