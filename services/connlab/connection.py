"""One client connection: its socket, its protocol (which parses its requests), its
replies in request order, and where it stands in its life (lifecycle.State).

Replies may be produced out of order (message balancing hands requests of one connection
to several workers), so each request reserves a slot and bytes leave only from the head
of the queue. Only the thread that owns the connection touches the queue; a worker only
fills in its slot.
"""

import time
from collections import deque

from . import tally
from .commands import Closing
from .lifecycle import State
from .protocols import ProtocolError

READ_SIZE = 64 * 1024  # bytes a reader asks recv() for at once

class Slot:
    __slots__ = ("reply",)

    def __init__(self):
        self.reply = None  # its reply (bytes, or Closing) once done


class Connection:
    def __init__(self, sock, tally, settings):
        self.sock = sock
        self.fd = sock.fileno()
        self.tally = tally  # the accounting of the thread that owns it
        self.protocol = settings.protocol(settings.limits)
        self.state = State.READING  # changed by its reader alone
        self.pending = deque()  # slots not yet written, in request order
        self.out = bytearray()  # bytes ready to send
        self.closing = False  # its last reply (QUIT, a protocol error) is in `out`
        self.failed = None  # the error reply once malformed framing was seen
        self.reading_over = False  # after a protocol error, or once the server drains
        self.last_active = 0.0  # monotonic time of its last request or reply sent, for IDLE_TIMEOUT

    def process(self, data, execute):
        """Parse `data` and pass the requests to execute(conn, requests, received); after
        them, queue the protocol error if the framing broke."""
        received = time.perf_counter_ns()
        requests = self.receive(data)
        if requests:
            self.last_active = time.monotonic()  # dribbling bytes alone does not count
            execute(self, requests, received)
        if self.failed:
            self._give_up()
        elif (interim := self.protocol.owed()) is not None:
            self.reply_all((interim,))  # behind the replies to the requests before it

    def stalled(self, now):
        """Whether its protocol gave up on a request that has taken too long to arrive
        (HTTP's 408); then that reply is queued and reading is over."""
        reply = self.protocol.stalled(now)
        if reply is None:
            return False
        self.failed = Closing(reply)
        self.reading_over = True
        self._give_up()
        return True

    def _give_up(self):
        self.reply_all((self.failed,))
        self.tally.count(tally.PROTOCOL_ERRORS)

    def receive(self, data):
        """The complete requests in `data`. On malformed framing, set `failed` to the
        error reply, which `process` queues after the requests before it."""
        if self.failed:
            return []
        try:
            return self.protocol.feed(data)
        except ProtocolError as exc:
            self.failed = Closing(self.protocol.error(exc))
            self.reading_over = True
            return exc.requests

    def reply_later(self):
        slot = Slot()
        self.pending.append(slot)
        return slot

    def reply_all(self, replies):
        """Queue `replies` (bytes, or Closing), in order, behind those still pending."""
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

    def send(self):
        """Send the replies that are ready, as far as the socket takes them without
        blocking; False if the client is gone."""
        self.collect_replies()
        if self.out:
            try:
                sent = self.sock.send(self.out)
            except (BlockingIOError, InterruptedError):
                return True
            except OSError:
                return False
            del self.out[:sent]
            if not self.out:
                self.last_active = time.monotonic()  # the client took its replies
        return True

    def _write(self, reply):
        if self.closing:
            return  # nothing is answered after QUIT or a protocol error
        if type(reply) is Closing:
            self.closing = True
            reply = reply.reply
        self.out += reply
