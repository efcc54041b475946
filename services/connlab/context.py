"""What every part of one server process shares: settings, metrics, the connection
limit, and the means to stop it gracefully."""

import multiprocessing
import os
import signal
import socket
import threading


class ConnectionLimit:
    """MAX_CONNECTIONS across threads and, since it lives in shared memory created
    before the workers fork, across the processes of one server."""

    def __init__(self, maximum):
        self.maximum = maximum
        self._open = multiprocessing.Value("i", 0)

    def acquire(self):
        with self._open.get_lock():
            if self._open.value >= self.maximum:
                return False
            self._open.value += 1
            return True

    def release(self):
        with self._open.get_lock():
            self._open.value -= 1


class Context:
    def __init__(self, settings, metrics, limit=None):
        self.settings = settings
        self.metrics = metrics
        self.limit = limit or ConnectionLimit(settings.max_connections)
        self.stopping = threading.Event()
        self._lock = threading.Condition()
        self.loops = []  # this process's event loops: drained on stop, their load in /metrics
        self._listeners = []  # listening sockets to close on stop
        self._blocking = 0  # blocking readers still serving

    def add_loop(self, loop):
        self.loops.append(loop)

    def add_listener(self, sock):
        self._listeners.append(sock)

    # Blocking readers look up from recv() now and then to see `stopping`; after
    # stop() the server waits for them to answer and close.
    def reader_started(self):
        with self._lock:
            self._blocking += 1

    def reader_finished(self):
        with self._lock:
            self._blocking -= 1
            self._lock.notify_all()

    def wait_for_blocking_readers(self, timeout):
        with self._lock:
            return self._lock.wait_for(lambda: not self._blocking, timeout)

    def stop_on_sigterm(self):
        """SIGTERM (docker stop) drains this process; past the grace period plus a
        margin it exits regardless, so a stuck request cannot hold it hostage."""

        def on_sigterm(*_):
            self.stop()
            timer = threading.Timer(self.settings.shutdown_grace + 2, os._exit, (0,))
            timer.daemon = True
            timer.start()

        signal.signal(signal.SIGTERM, on_sigterm)

    def stop(self):
        """Stop accepting and reading; work already read is finished and answered.
        Safe to call from a signal handler: it sets flags, shuts listeners and
        writes to the loops' wake-up pipes."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        for sock in self._listeners:
            _stop_accepting(sock)
        for loop in self.loops:
            loop.stop()


def _stop_accepting(sock):
    """Shut a listening socket: a thread blocked in accept() wakes with an error, and
    new connections are refused instead of queued."""
    try:
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass  # already closed
