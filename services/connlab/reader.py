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

from .connection import Connection
from .worker import handle

READ_SIZE = 64 * 1024
_IN = select.EPOLLIN
_OUT = select.EPOLLOUT


def configure(sock):
    """Options every accepted connection gets, whatever accepted it."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class EventLoop:
    def __init__(self, name, ctx, pool=None):
        self.name = name  # the worker label of its connections
        self.ctx = ctx
        self.pool = pool  # None: execute requests on this thread
        self._epoll = select.epoll()
        self._connections = {}  # fd -> Connection
        self._listeners = {}  # fd -> listening socket
        self._inbox = deque()  # connections adopted from an acceptor thread
        self._finished = deque()  # connections with replies completed by workers
        self._woken = False
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._epoll.register(self._wake_r, _IN)

    # --- called from other threads -------------------------------------------------
    def adopt(self, sock):
        """Take over a connection accepted elsewhere (memcached's dispatch_conn_new)."""
        self._inbox.append(sock)
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
        while True:
            for fd, events in self._epoll.poll():
                if fd == self._wake_r:
                    self._on_wake()
                elif fd in self._listeners:
                    self._accept(self._listeners[fd])
                else:
                    conn = self._connections.get(fd)
                    if conn is None:
                        continue
                    if events & (_IN | select.EPOLLERR | select.EPOLLHUP):
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
        while self._finished:
            conn = self._finished.popleft()
            if conn.fd in self._connections and self._connections[conn.fd] is conn:
                conn.collect_replies()
                self._flush(conn)

    def _accept(self, listener):
        while True:
            try:
                sock, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return  # another loop took it, or the queue is empty
            except OSError:
                return  # e.g. EMFILE; the connection stays queued for later
            configure(sock)
            self._open(sock)

    def _open(self, sock):
        sock.setblocking(False)
        conn = Connection(sock, self.name, self.ctx.settings.limits)
        self._connections[conn.fd] = conn
        self._epoll.register(conn.fd, _IN)
        conn.watching = _IN
        self.ctx.metrics.connection_opened(self.name)

    def _close(self, conn):
        if self._connections.pop(conn.fd, None) is None:
            return
        self._epoll.unregister(conn.fd)
        conn.sock.close()
        self.ctx.metrics.connection_closed(self.name)

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
        if conn.failed or conn.closing:
            return  # its reply is decided; what else it sends is dropped
        received = time.perf_counter()
        for request in conn.receive(data):
            if self.pool is None:
                conn.reply_now(handle(request, received, self.name, self.ctx))
            else:
                self.pool.submit(request, received, conn.reply_later(), lambda c=conn: self._reply_ready(c))
        if conn.failed:
            conn.reply_now(conn.failed)
            self.ctx.metrics.protocol_errors.inc()
        self._flush(conn)

    def _reply_ready(self, conn):
        """Called on a worker thread when one of `conn`'s replies is done."""
        self._finished.append(conn)
        self._wake()

    def _flush(self, conn):
        """Send what is ready; wait for EPOLLOUT if the socket is full."""
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
        if conn.closing and not conn.out:
            self._close(conn)
            return
        # Read again only once the client has taken its replies; that bounds `out`.
        wanted = _OUT if conn.out else 0 if conn.failed else _IN
        if wanted != conn.watching:
            self._epoll.modify(conn.fd, wanted)
            conn.watching = wanted


def serve_connection(sock, name, ctx):
    """Blocking reader: serve one connection on this thread until it closes."""
    conn = Connection(sock, name, ctx.settings.limits)
    ctx.metrics.connection_opened(name)
    try:
        while not conn.closing:
            data = sock.recv(READ_SIZE)
            if not data:
                break
            received = time.perf_counter()
            for request in conn.receive(data):
                conn.reply_now(handle(request, received, name, ctx))
            if conn.failed:
                conn.reply_now(conn.failed)
                ctx.metrics.protocol_errors.inc()
            conn.collect_replies()
            sock.sendall(conn.out)
            conn.out.clear()
    except OSError:
        pass  # the client went away; nothing to answer
    finally:
        sock.close()
        ctx.metrics.connection_closed(name)
