"""The blocking reader: one thread serves one connection, from first byte to close
(thread-per-connection, and multi-acceptor's blocking mode). Blocking is its
backpressure: while the client does not read its replies, send() waits."""

import socket
import time

from . import tally
from .connection import READ_SIZE, Connection
from .executor import Inline

TICK = 0.5  # how often the reader looks up from recv() at the clock and the stop flag


def serve_connection(sock, counts, ctx):
    """Serve one connection on this thread (whose tally is `counts`) until it closes."""
    conn = Connection(sock, counts, ctx.settings)
    execute = Inline(counts, ctx.settings)
    counts.count(tally.ACCEPTED)
    ctx.reader_started()
    idle_timeout = ctx.settings.idle_timeout
    patience = ctx.settings.protocol.patience(ctx.settings.limits)
    conn.last_active = time.monotonic()
    sock.settimeout(TICK)
    try:
        while not conn.closing:
            try:
                data = sock.recv(READ_SIZE)
            except TimeoutError:
                data = None  # a wake-up to look at the stop flag and the idle clock
            if ctx.stopping.is_set():
                _linger(sock, ctx.settings.shutdown_grace)
                break
            if idle_timeout and time.monotonic() - conn.last_active > idle_timeout:
                break
            if data == b"":
                break
            if data is not None:
                conn.process(data, execute)
            if patience and not conn.failed:  # a head dribbling in never lets recv() time out
                conn.stalled(time.monotonic())
            conn.collect_replies()
            if conn.out:
                _send(sock, conn.out, ctx.stopping)
                conn.out.clear()
                conn.last_active = time.monotonic()  # the client took its replies
    except OSError:
        pass  # the client went away; nothing to answer
    finally:
        sock.close()
        ctx.limit.release()
        counts.count(tally.CLOSED)
        ctx.reader_finished()


def _send(sock, data, stopping):
    """sendall() that still looks up at the stop flag while the client is not reading."""
    view = memoryview(data)
    while view:
        try:
            view = view[sock.send(view) :]
        except TimeoutError:
            if stopping.is_set():
                raise
    view.release()


def _linger(sock, grace):
    """The drain: FIN after the replies sent, then discard input until the client
    closes (see lifecycle.State.LINGERING)."""
    deadline = time.monotonic() + grace
    try:
        sock.shutdown(socket.SHUT_WR)
        while time.monotonic() < deadline and sock.recv(READ_SIZE):
            pass
    except OSError:
        pass
