"""Readers: the role that reads connections, parses requests and writes replies.

`EventLoop` is the non-blocking reader (one thread, many connections, epoll), as in
Node.js, NGINX workers and memcached's worker threads. It may also watch listening
sockets (then it is its own acceptor) and may hand requests to a `WorkerPool` instead of
executing them itself. `serve_connection` is the blocking reader: one thread, one
connection, from first byte to close.
"""

import os
import select
import socket
import time
from collections import deque

from . import protocol, tally
from .connection import Connection
from .worker import handle

READ_SIZE = 64 * 1024
BLOCKING_TICK = 0.5  # how often a blocking reader looks up from recv() at the clock
_IN = select.EPOLLIN
_OUT = select.EPOLLOUT
_GONE = select.EPOLLERR | select.EPOLLHUP
REJECTED = protocol.error("ERR max connections reached")


def admit(sock, ctx, counts):
    """Take a freshly accepted connection under MAX_CONNECTIONS, or turn it away with
    an error (counted in the accepting thread's tally `counts`). Every accepting path
    calls this once; the reader releases the slot."""
    if not ctx.limit.acquire():
        counts.count(tally.REJECTED)
        try:
            sock.setblocking(False)
            sock.send(REJECTED)
        except OSError:
            pass
        sock.close()
        return False
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return True


def process(conn, data, run):
    """Parse `data` and pass the requests to run(conn, requests, received); after them,
    queue the protocol error if the framing broke."""
    received = time.perf_counter_ns()
    requests = conn.receive(data)
    if requests:
        conn.last_active = time.monotonic()  # dribbling bytes alone does not count
        run(conn, requests, received)
    if conn.failed:
        conn.reply_now(conn.failed)
        conn.tally.count(tally.PROTOCOL_ERRORS)


class EventLoop:
    def __init__(self, name, ctx, pool=None):
        self.name = name  # the worker label of its connections
        self.ctx = ctx
        self.pool = pool  # None: execute requests on this thread
        self.tally = None  # taken by the thread that runs the loop (run)
        self._run = self._execute if pool is None else self._submit
        self._epoll = select.epoll()
        self._connections = {}  # fd -> Connection; made again by the loop's thread (run)
        self._listeners = {}  # fd -> listening socket
        self._inbox = deque()  # connections adopted from an acceptor thread
        self._finished = deque()  # connections with replies completed by workers
        self._woken = False
        self._stopping = False
        self._deadline = None
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._epoll.register(self._wake_r, _IN)
        ctx.add_loop(self)

    # --- called from other threads -------------------------------------------------
    def adopt(self, sock):
        """Take over a connection accepted elsewhere (memcached's dispatch_conn_new)."""
        self._inbox.append(sock)
        self._wake()

    def stop(self):
        """Drain: stop accepting and reading, answer what was read, then return."""
        self._stopping = True
        self._wake()

    def _wake(self):
        if not self._woken:
            self._woken = True
            os.write(self._wake_w, b"\0")

    # --- the loop itself -------------------------------------------------------------
    def watch_listener(self, sock, exclusive=False):
        """Accept on this loop too; several loops may watch one socket."""
        sock.setblocking(False)
        self._listeners[sock.fileno()] = sock
        self._epoll.register(sock.fileno(), _IN | (select.EPOLLEXCLUSIVE if exclusive else 0))

    def run(self):
        # What only this thread reads and writes, made by this thread: it owns it
        # (on the free-threaded build, see ownership.py).
        self.tally = self.ctx.metrics.tally(self.name, tally.READS if self.pool else tally.READS | tally.EXECUTES)
        self._connections, self._listeners = {}, dict(self._listeners)
        idle_timeout = self.ctx.settings.idle_timeout
        tick = min(1.0, idle_timeout / 4) if idle_timeout else None
        next_sweep = time.monotonic() + (tick or 0)
        while True:
            draining = self._deadline is not None
            if draining and (not self._connections or time.monotonic() > self._deadline):
                break
            for fd, events in self._epoll.poll(0.1 if draining else tick):
                if fd == self._wake_r:
                    self._on_wake()
                elif fd in self._listeners:
                    self._accept(self._listeners[fd])
                elif (conn := self._connections.get(fd)) is not None:
                    self._on_events(conn, events)
            if tick and time.monotonic() >= next_sweep:
                self._close_idle(idle_timeout)
                next_sweep = time.monotonic() + tick
        for conn in list(self._connections.values()):
            self._close(conn)  # the grace period is over

    def _on_events(self, conn, events):
        if conn.done_reading and not conn.lingering and events & _GONE:
            self._close(conn)  # the client is gone; nobody is left to answer
            return
        if events & (_IN | _GONE):
            self._on_readable(conn)
        if events & _OUT and conn.fd in self._connections:
            self._flush(conn)

    def _on_wake(self):
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        self._woken = False  # cleared before draining, so no hand-off is missed
        while self._inbox:
            self._open(self._inbox.popleft())
        finished = {}  # each connection once, however many of its replies are done
        while self._finished:
            conn = self._finished.popleft()
            finished[conn.fd] = conn
        for fd, conn in finished.items():
            if self._connections.get(fd) is conn:
                self._flush(conn)
        if self._stopping and self._deadline is None:
            self._begin_drain()

    def _begin_drain(self):
        self._deadline = time.monotonic() + self.ctx.settings.shutdown_grace
        for fd in self._listeners:
            self._epoll.unregister(fd)
        self._listeners.clear()
        for conn in list(self._connections.values()):
            conn.done_reading = True
            self._flush(conn)

    def _accept(self, listener):
        while True:
            try:
                sock, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return  # another loop took it, or the queue is empty
            except OSError:
                return  # e.g. EMFILE; the connection stays queued for later
            if admit(sock, self.ctx, self.tally):
                self._open(sock)

    def _open(self, sock):
        sock.setblocking(False)
        conn = Connection(sock, self.tally, self.ctx.settings.limits)
        conn.on_reply = lambda: self._reply_ready(conn)  # for the workers of a pool
        conn.last_active = time.monotonic()
        self._connections[conn.fd] = conn
        self._epoll.register(conn.fd, _IN)
        conn.watching = _IN
        self.tally.count(tally.ACCEPTED)
        if self._deadline is not None:
            conn.done_reading = True  # handed over while draining
            self._flush(conn)

    def _close(self, conn):
        if self._connections.pop(conn.fd, None) is None:
            return
        self._epoll.unregister(conn.fd)
        conn.sock.close()
        self.ctx.limit.release()
        self.tally.count(tally.CLOSED)

    def _linger(self, conn):
        """Draining: all answered. Send FIN, then discard what the client still sends
        until it closes; closing with unread input would reset the connection and
        could destroy replies not yet delivered."""
        conn.lingering = True
        conn.closing = True
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close(conn)
            return
        self._epoll.modify(conn.fd, _IN)
        conn.watching = _IN

    def _close_idle(self, idle_timeout):
        oldest = time.monotonic() - idle_timeout
        for conn in list(self._connections.values()):
            if conn.last_active < oldest and not conn.pending and not conn.out:
                self._close(conn)

    def _on_readable(self, conn):
        try:
            data = conn.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close(conn)
            return
        if conn.done_reading or conn.closing:
            return  # its last reply is decided; what else it sends is dropped
        process(conn, data, self._run)
        self._flush(conn)

    # How this loop runs a request: itself, or through its worker pool.
    def _execute(self, conn, requests, received):
        conn.reply_all(handle(requests, received, self.tally, self.ctx))

    def _submit(self, conn, requests, received):
        if self.tally.recording:
            self.tally.count(tally.QUEUED, len(requests))
        self.pool.submit(requests, received, time.perf_counter_ns(), conn)

    def _reply_ready(self, conn):
        """Called on a worker thread when one of `conn`'s replies is done."""
        self._finished.append(conn)
        self._wake()

    def _flush(self, conn):
        """Send what is ready; then decide what to wait for on this connection."""
        conn.collect_replies()
        if conn.out:
            try:
                sent = conn.sock.send(conn.out)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self._close(conn)
                return
            del conn.out[:sent]
            if not conn.out:
                conn.last_active = time.monotonic()  # the client took its replies
        if not conn.out and (conn.closing or (conn.done_reading and not conn.pending)):
            if self._deadline is None:
                self._close(conn)
            elif not conn.lingering:
                self._linger(conn)
            return
        # Backpressure: read more only once the client has taken its replies and fewer
        # than MAX_PENDING requests are in flight; that bounds what a connection holds.
        if conn.out:
            wanted = _OUT
        elif conn.done_reading or len(conn.pending) >= self.ctx.settings.max_pending:
            wanted = 0
        else:
            wanted = _IN
        if wanted != conn.watching:
            self._epoll.modify(conn.fd, wanted)
            conn.watching = wanted


def serve_connection(sock, counts, ctx):
    """Blocking reader: serve one connection on this thread (whose tally is `counts`)
    until it closes."""
    conn = Connection(sock, counts, ctx.settings.limits)
    counts.count(tally.ACCEPTED)
    ctx.reader_started()
    idle_timeout = ctx.settings.idle_timeout
    conn.last_active = time.monotonic()
    sock.settimeout(BLOCKING_TICK)
    run = lambda conn, requests, received: conn.reply_all(handle(requests, received, counts, ctx))  # noqa: E731
    try:
        while not conn.closing:
            try:
                data = sock.recv(READ_SIZE)
            except TimeoutError:
                data = None  # a wake-up to look at the stop flag and the idle clock
            if ctx.stopping.is_set():
                _linger_blocking(sock, ctx.settings.shutdown_grace)
                break
            if idle_timeout and time.monotonic() - conn.last_active > idle_timeout:
                break
            if data is None:
                continue
            if not data:
                break
            process(conn, data, run)
            conn.collect_replies()
            if conn.out:
                _send_blocking(sock, conn.out, ctx.stopping)
                conn.out.clear()
                conn.last_active = time.monotonic()  # the client took its replies
    except OSError:
        pass  # the client went away; nothing to answer
    finally:
        sock.close()
        ctx.limit.release()
        counts.count(tally.CLOSED)
        ctx.reader_finished()


def _send_blocking(sock, data, stopping):
    """sendall() that still looks up at the stop flag while the client is not reading
    (blocking, that is this design's backpressure)."""
    view = memoryview(data)
    while view:
        try:
            view = view[sock.send(view) :]
        except TimeoutError:
            if stopping.is_set():
                raise
    view.release()


def _linger_blocking(sock, grace):
    """The blocking reader's drain: FIN after the replies sent, then discard input
    until the client closes (see EventLoop._linger)."""
    deadline = time.monotonic() + grace
    try:
        sock.shutdown(socket.SHUT_WR)
        while time.monotonic() < deadline and sock.recv(READ_SIZE):
            pass
    except OSError:
        pass
