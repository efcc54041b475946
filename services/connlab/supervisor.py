"""The master of the multi-process architectures, as in NGINX: it opens one
SO_REUSEPORT listening socket per worker process, forks the workers (each keeps only its
own socket), serves /metrics for all of them, and replaces a worker that dies.
On SIGTERM it passes the signal on and waits for the workers to drain."""

import contextlib
import logging
import os
import signal
import time

from .listener import open_listener
from .steering import steer

log = logging.getLogger(__name__)


def run_processes(settings, count, serve, start_metrics, board):
    """Fork `count` processes running serve(index, listener); return once they exit
    after SIGTERM. `board` holds every process's accounting (tally.Board)."""
    listeners = [open_listener(settings.host, settings.port, settings.backlog, reuse_port=True) for _ in range(count)]
    steer(listeners, settings.steering)  # which socket of the group takes a new connection
    children = {}
    stopping = []

    def spawn(index):
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                for other, sock in enumerate(listeners):
                    if other != index:
                        sock.close()
                serve(index, listeners[index])
                status = 0
            finally:
                os._exit(status)
        children[pid] = index

    def stop(*_):
        stopping.append(time.monotonic() + settings.shutdown_grace + 1)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    for index in range(count):
        spawn(index)
    signal.signal(signal.SIGTERM, stop)
    start_metrics({str(i): sock for i, sock in enumerate(listeners)})
    while children:
        if stopping and time.monotonic() > stopping[0]:
            for pid in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        try:
            pid, status = os.waitpid(-1, 0 if not stopping else os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.05)  # draining: poll the children against the deadline
            continue
        index = children.pop(pid)
        board.release_process(pid)  # its connections are gone; its slots go to its successor
        if not stopping:
            log.warning("worker process %d (pid %d) exited with status %d; starting another", index, pid, status)
            spawn(index)
