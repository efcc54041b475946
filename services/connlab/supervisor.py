"""The master of the multi-process architectures, as in NGINX: it opens one
SO_REUSEPORT listening socket per worker process, forks the workers (each keeps only its
own socket), serves /metrics for all of them, and replaces a worker that dies."""

import contextlib
import logging
import os
import signal
import sys

from prometheus_client import multiprocess

from .listener import open_listener

log = logging.getLogger(__name__)


def run_processes(settings, count, serve, start_metrics):
    """Fork `count` processes running serve(index, listener); never returns."""
    listeners = [open_listener(settings.host, settings.port, settings.backlog, reuse_port=True) for _ in range(count)]
    children = {}

    def spawn(index):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            for other, sock in enumerate(listeners):
                if other != index:
                    sock.close()
            try:
                serve(index, listeners[index])
            finally:
                os._exit(1)
        children[pid] = index

    def stop(*_):
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        sys.exit(0)

    for index in range(count):
        spawn(index)
    signal.signal(signal.SIGTERM, stop)
    start_metrics({str(i): sock for i, sock in enumerate(listeners)})
    while True:
        pid, status = os.wait()
        index = children.pop(pid, None)
        multiprocess.mark_process_dead(pid)
        if index is not None:
            log.warning("worker process %d (pid %d) exited with status %d; starting another", index, pid, status)
            spawn(index)
