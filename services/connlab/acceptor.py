"""The acceptor: a thread that blocks in accept() and hands each connection on."""

import errno
import logging
import time

from .reader import admit

log = logging.getLogger(__name__)
# Out of descriptors or memory: the connection stays queued in the kernel; pause
# briefly instead of spinning on the same error.
_RESOURCE_ERRORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


def accept_forever(listener, hand_off, ctx, tally):
    """Accept until the server stops (ctx.stop() shuts the listener, waking accept);
    `tally` is this thread's accounting."""
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
        if admit(sock, ctx, tally):
            hand_off(sock)
