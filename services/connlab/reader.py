"""The non-blocking reader: one thread serves many connections on its reactor, as in
Node.js, NGINX workers and memcached's worker threads. It may watch listening sockets
(then it is its own acceptor) and has its requests executed inline or by a worker pool
(executor.py). What each epoll event means, and where a connection goes next, is in
lifecycle.py; this module does the I/O that it calls for."""

import select
import socket
import time
from collections import deque

from . import tally, threads
from .acceptor import accept_ready
from .connection import READ_SIZE, Connection
from .executor import Inline, Pooled
from .lifecycle import Action, State, interest, react, settle
from .reactor import Reactor


class EventLoop:
    def __init__(self, name, ctx, pool=None):
        self.name = name  # the worker label of its connections
        self.ctx = ctx
        self.pool = pool  # None: execute requests on this thread
        self.reactor = Reactor()
        self.tally = self.execute = None  # made by the thread that runs the loop (start)
        self.connections = set()
        self.draining = False
        self._listeners = []
        self._max_pending = ctx.settings.max_pending
        # What a dispatcher reads of its load. busy_since is written by this loop's thread
        # only; the inbox is a deque, whose append and popleft are atomic, because the
        # acceptor appends to it and another loop may take from it (Steal).
        self.track_busy = False  # set by a policy that reads busy_since (two clock reads per read)
        self.busy_since = 0.0  # when the request it is executing began; 0 while it waits
        self.inbox = deque()  # handed over, not yet opened
        ctx.add_loop(self)

    # --- from other threads ----------------------------------------------------------------
    def adopt(self, sock):
        """Take over a connection accepted elsewhere (memcached's dispatch_conn_new)."""
        self.inbox.append(sock)
        self.reactor.call_soon(self._take_inbox)

    @property
    def open_connections(self):
        """Its connections, and those handed to it that it has not opened yet."""
        return len(self.inbox) + len(self.connections)

    @property
    def load(self):
        return self.open_connections + (1 if self.busy_since else 0)


    def stop(self):
        """Drain: stop accepting and reading, answer what was read, then return."""
        self.reactor.call_soon(self._begin_drain)

    def watch_listener(self, sock, exclusive=False):
        """Accept on this loop too (before run); several loops may watch one socket."""
        sock.setblocking(False)
        self._listeners.append(sock)
        events = select.EPOLLIN | (select.EPOLLEXCLUSIVE if exclusive else 0)
        self.reactor.register(sock.fileno(), events, self._accept, sock)

    # --- on the loop's thread --------------------------------------------------------------
    def start(self):
        """Take this thread's accounting and executor (it owns them: ownership.py)."""
        self.tally = self.ctx.metrics.tally(self.name, tally.READS if self.pool else tally.READS | tally.EXECUTES)
        if self.pool is None:
            self.execute = Inline(self.tally, self.ctx.settings)
        else:
            self.execute = Pooled(self.pool, self.tally, self.reactor, self._reply_ready)
        self.connections = set()
        settings = self.ctx.settings
        idle_timeout, patience = settings.idle_timeout, settings.protocol.patience(settings.limits)
        if idle_timeout or patience:
            self._sweep_every(min(1.0, *(t / 4 for t in (idle_timeout, patience) if t)), idle_timeout, patience)

    def run(self):
        threads.name_this_thread(f"loop-{self.name}")
        self.start()
        self.reactor.run()
        for conn in list(self.connections):
            self._enter(conn, State.CLOSED)  # the grace period is over

    def _accept(self, listener, events):
        accept_ready(listener, self.ctx, self.tally, self.open)

    def _take_inbox(self, _=None):
        while True:
            try:
                sock = self.inbox.popleft()
            except IndexError:  # empty, or another loop took it first
                return
            self.open(sock)

    def open(self, sock):
        """Serve `sock` on this loop (called on its thread: accepted, handed over, taken)."""
        sock.setblocking(False)
        conn = Connection(sock, self.tally, self.ctx.settings)
        conn.last_active = time.monotonic()
        self.connections.add(conn)
        self.reactor.register(conn.fd, interest(State.READING), self._on_events, conn)
        self.tally.count(tally.ACCEPTED)
        if self.draining:
            conn.reading_over = True  # handed over while draining
            self._flush(conn)

    def _on_events(self, conn, events):
        action = react(conn.state, events)
        if action is Action.READ:
            self._read(conn)
        elif action is Action.WRITE:
            self._flush(conn)
        elif action is Action.CLOSE:
            self._enter(conn, State.CLOSED)

    def _read(self, conn):
        try:
            data = conn.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._enter(conn, State.CLOSED)  # the client left: nobody is left to answer
        elif conn.state is State.READING:
            if self.track_busy:
                self.busy_since = time.monotonic()
                conn.process(data, self.execute)
                self.busy_since = 0.0
            else:
                conn.process(data, self.execute)
            self._flush(conn)
        # LINGERING: what the client still sends is discarded until its EOF

    def _reply_ready(self, conn):
        """A worker finished one of `conn`'s replies (Pooled.done, via the reactor)."""
        if conn.state is not State.CLOSED:
            self._flush(conn)

    def _flush(self, conn):
        """Send what is ready; then settle where the connection stands."""
        if not conn.send():
            self._enter(conn, State.CLOSED)
            return
        state = settle(conn.state, unsent=bool(conn.out), in_flight=len(conn.pending), closing=conn.closing,
                       reading_over=conn.reading_over, draining=self.draining, max_pending=self._max_pending)
        if state is not conn.state:
            self._enter(conn, state)

    def _enter(self, conn, state):
        """The one place a connection changes state, and what each change does."""
        if conn.state is State.CLOSED:
            return
        if state is State.LINGERING:  # FIN; closing with input unread would reset replies in flight
            try:
                conn.sock.shutdown(socket.SHUT_WR)
            except OSError:
                state = State.CLOSED
        conn.state = state
        if state is not State.CLOSED:
            self.reactor.modify(conn.fd, interest(state))
            return
        self.reactor.unregister(conn.fd)
        conn.sock.close()
        self.connections.discard(conn)
        self.ctx.limit.release()
        self.tally.count(tally.CLOSED)
        if self.draining and not self.connections:
            self.reactor.stop()

    def _begin_drain(self, _=None):
        if self.draining:
            return
        self.draining = True
        for sock in self._listeners:
            self.reactor.unregister(sock.fileno())
        self.reactor.call_later(self.ctx.settings.shutdown_grace, self.reactor.stop)
        for conn in list(self.connections):
            conn.reading_over = True
            self._flush(conn)
        if not self.connections:
            self.reactor.stop()

    def _sweep_every(self, tick, idle_timeout, patience):
        """Close connections idle for `idle_timeout` seconds, and answer those whose request
        has taken longer than `patience` to arrive (then close), looking every `tick`."""
        now = time.monotonic()
        oldest = now - idle_timeout if idle_timeout else float("-inf")
        for conn in list(self.connections):
            if patience and conn.state is State.READING and conn.stalled(now):
                self._flush(conn)
            elif conn.last_active < oldest and not conn.pending and not conn.out:
                self._enter(conn, State.CLOSED)
        self.reactor.call_later(tick, lambda: self._sweep_every(tick, idle_timeout, patience))
