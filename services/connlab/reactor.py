"""The reactor: one thread waiting on epoll and calling back whoever registered what it
waits for, as asyncio's selector loop is apart from its transports. Other threads hand
it work with call_soon (a wake-up pipe breaks the wait); timers (call_later) serve the
idle sweep and the drain deadline."""

import heapq
import itertools
import os
import select
import time
from collections import deque


class Reactor:
    def __init__(self):
        self._epoll = select.epoll()
        self._handlers = {}  # fd -> (callback, argument): callback(argument, events)
        self._soon = deque()  # (callback, argument) from any thread
        self._timers = []  # heap of (when, sequence, callback)
        self._sequence = itertools.count()
        self._woken = False
        self._running = False
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._epoll.register(self._wake_r, select.EPOLLIN)

    # --- from any thread, or a signal handler ------------------------------------------
    def call_soon(self, callback, argument=None):
        """Run callback(argument) on the reactor's thread. The same (callback, argument)
        handed over several times before the reactor looks runs once: a connection whose
        replies finish together is flushed once."""
        self._soon.append((callback, argument))
        if not self._woken:
            self._woken = True
            os.write(self._wake_w, b"\0")

    # --- on the reactor's thread ---------------------------------------------------------
    def register(self, fd, events, callback, argument=None):
        self._handlers[fd] = (callback, argument)
        self._epoll.register(fd, events)

    def modify(self, fd, events):
        self._epoll.modify(fd, events)

    def unregister(self, fd):
        del self._handlers[fd]
        self._epoll.unregister(fd)

    def call_later(self, delay, callback):
        heapq.heappush(self._timers, (time.monotonic() + delay, next(self._sequence), callback))

    def stop(self):
        """Return from run() once the events in hand are handled."""
        self._running = False

    def run(self):
        # Made again by this thread, which then owns what it reads on every event
        # (on the free-threaded build, see ownership.py).
        self._handlers = dict(self._handlers)
        self._running = True
        while self._running:
            self.run_once(self._timeout())

    def run_once(self, timeout=0):
        """Wait up to `timeout` seconds (None: until something happens) and handle
        what is ready: events, callbacks handed over, timers due."""
        handlers = self._handlers
        for fd, events in self._epoll.poll(timeout):
            if fd == self._wake_r:
                self._run_soon()
            elif (handler := handlers.get(fd)) is not None:
                handler[0](handler[1], events)
        timers = self._timers
        while timers and timers[0][0] <= time.monotonic():
            heapq.heappop(timers)[2]()

    def close(self):
        self._epoll.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _timeout(self):
        if not self._timers:
            return None
        return max(0.0, self._timers[0][0] - time.monotonic())

    def _run_soon(self):
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        self._woken = False  # cleared before taking the calls, so none is missed
        soon = self._soon
        taken = [soon.popleft() for _ in range(len(soon))]
        for callback, argument in dict.fromkeys(taken):
            callback(argument)
