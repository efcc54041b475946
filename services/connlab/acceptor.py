"""The acceptor role: take connections off a listening socket, admit them under
MAX_CONNECTIONS, and hand each to whoever serves it. A thread may block in accept()
(`accept_forever`), or an event loop may accept whatever is waiting when epoll says
so (`accept_ready`)."""

import errno
import logging
import socket
import time

from . import tally

log = logging.getLogger(__name__)
# Out of descriptors or memory: the connection stays queued in the kernel; pause
# briefly instead of spinning on the same error.
_RESOURCE_ERRORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


def admit(sock, ctx, counts):
    """Take a freshly accepted connection under MAX_CONNECTIONS, or turn it away with
    its protocol's refusal (counted in the accepting thread's tally `counts`). Every
    accepting path calls this once; the reader releases the slot."""
    if not ctx.limit.acquire():
        counts.count(tally.REJECTED)
        try:
            sock.setblocking(False)
            sock.send(ctx.settings.protocol.REFUSAL)
        except OSError:
            pass
        sock.close()
        return False
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    keep_alive(sock, ctx.settings.keepalive)
    return True


def keep_alive(sock, keepalive):
    """TCP keepalive (idle, interval, count in seconds; idle 0: off), as Redis's
    tcp-keepalive: a peer that vanished without FIN is found and its slot freed."""
    idle, interval, count = keepalive
    if not idle:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, interval)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, count)


def accept_ready(listener, ctx, counts, serve):
    """Accept what waits on the non-blocking `listener` and serve(sock) each admitted."""
    while True:
        try:
            sock, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return  # another loop took it, or the queue is empty
        except OSError:
            return  # e.g. EMFILE; the connection stays queued for later
        if admit(sock, ctx, counts):
            serve(sock)


def accept_forever(listener, hand_off, ctx, counts):
    """Block in accept() until the server stops (ctx.stop() shuts the listener, waking
    accept); `counts` is this thread's accounting."""
    listener.setblocking(True)
    while not ctx.stopping.is_set():
        try:
            sock, _ = listener.accept()
        except InterruptedError:
            continue
        except OSError as exc:
            if ctx.stopping.is_set():
                return
            if exc.errno not in _RESOURCE_ERRORS:
                raise
            log.warning("accept failed (%s); retrying in 10 ms", exc)
            time.sleep(0.01)
            continue
        if admit(sock, ctx, counts):
            hand_off(sock)
