"""One client connection: its socket, its parser, and its replies in request order.

Replies may be produced out of order (message balancing hands requests of one connection
to several workers), so each request reserves a slot and bytes leave only from the head
of the queue. Only the thread that owns the connection touches the queue; a worker only
fills in its slot.
"""

from collections import deque

from . import protocol
from .commands import Closing


class Slot:
    __slots__ = ("reply",)

    def __init__(self):
        self.reply = None  # its reply (bytes) once done


class Connection:
    def __init__(self, sock, tally, limits):
        self.sock = sock
        self.fd = sock.fileno()
        self.tally = tally  # the accounting of the thread that owns it
        self.parser = protocol.RequestParser(limits)
        self.pending = deque()  # slots not yet written, in request order
        self.out = bytearray()  # bytes ready to send
        self.closing = False  # after `out` is sent, close (QUIT or protocol error)
        self.failed = None  # the error reply once malformed framing was seen
        self.done_reading = False  # after a protocol error, or while the server drains
        self.lingering = False  # draining: FIN sent, waiting for the client to close
        self.last_active = 0.0  # monotonic time of its last request or reply sent, for IDLE_TIMEOUT
        self.watching = 0  # the epoll events its reader waits for
        self.on_reply = None  # called on a worker thread when one of its replies is done

    def receive(self, data):
        """The complete requests in `data`. On malformed framing, set `failed` to the
        error reply, which the reader queues after the requests before it."""
        if self.failed:
            return []
        try:
            return self.parser.feed(data)
        except protocol.ProtocolError as exc:
            self.failed = Closing(protocol.error(f"ERR Protocol error: {exc}"))
            self.done_reading = True
            return exc.requests

    def reply_later(self):
        slot = Slot()
        self.pending.append(slot)
        return slot

    def reply_now(self, reply):
        self.reply_all((reply,))

    def reply_all(self, replies):
        """reply_now for each of `replies`, in order."""
        if self.pending:
            for reply in replies:
                self.reply_later().reply = reply
        else:
            for reply in replies:
                self._write(reply)

    def collect_replies(self):
        """Move finished replies from the head of the queue to the output buffer."""
        pending = self.pending
        while pending and pending[0].reply is not None:
            self._write(pending.popleft().reply)

    def _write(self, reply):
        if self.closing:
            return  # nothing is answered after QUIT or a protocol error
        self.out += reply
        if type(reply) is Closing:
            self.closing = True

