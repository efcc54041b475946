"""RespClient: Locust's custom-client pattern for RESP over raw TCP.

Every request fires Locust's `request` event once, with its own latency, also when
several are pipelined on one write. Failures are fired as events, then raised as
LoadgenFailure for the user to handle (reconnect); they never end a user.
"""

import socket as stdsocket
import time

import hiredis
from gevent import socket

from . import errors, metrics

RECV_BYTES = 65536


class RespClient:
    def __init__(self, environment, host, port, timeout=5.0):
        self.environment = environment
        self.host, self.port, self.timeout = host, port, timeout
        self.sock = None
        self.reader = None

    @property
    def connected(self):
        return self.sock is not None

    def _fire(self, name, started, exception=None, length=0):
        self.environment.events.request.fire(
            request_type="RESP",
            name=name,
            response_time=(time.perf_counter() - started) * 1000.0,
            response_length=length,
            exception=exception,
            context={},
        )

    def connect(self, started=None):
        """Open the connection; a failure is recorded under the name "connect"."""
        started = time.perf_counter() if started is None else started
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            failure = errors.from_connect_error(exc)
            self._fire("connect", started, failure)
            raise failure from exc
        sock.setsockopt(stdsocket.IPPROTO_TCP, stdsocket.TCP_NODELAY, 1)
        self.sock = sock
        self.reader = hiredis.Reader()
        metrics.OPEN_CONNECTIONS.inc()

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None
                self.reader = None
                metrics.OPEN_CONNECTIONS.dec()

    def execute(self, commands, started=None):
        """Write `commands` (one pipeline) at once, then read one reply per command.

        Each reply is fired as its own request, timed from `started` (the scheduled
        send time in open-loop mode, else now). Returns the number that succeeded.
        """
        started = time.perf_counter() if started is None else started
        if self.sock is None:
            self.connect(started)
        try:
            self.sock.sendall(b"".join(command.wire for command in commands))
        except OSError as exc:
            self._fail_rest(commands, started, errors.from_io_error(exc))
        ok = 0
        for index, command in enumerate(commands):
            try:
                reply = self._read_reply()
            except errors.LoadgenFailure as failure:
                self._fail_rest(commands[index:], started, failure)
            if isinstance(reply, hiredis.ReplyError):
                self._fire(command.name, started, errors.ServerError(str(reply)))
            elif reply != command.expected:
                self._fire(command.name, started, errors.UnexpectedReply(reply))
            else:
                self._fire(command.name, started, length=len(reply))
                ok += 1
        return ok

    def _read_reply(self):
        while True:
            try:
                reply = self.reader.gets()
            except hiredis.ProtocolError as exc:
                raise errors.ProtocolError(exc) from exc
            if reply is not False:
                return reply
            try:
                data = self.sock.recv(RECV_BYTES)
            except OSError as exc:
                raise errors.from_io_error(exc) from exc
            if not data:
                raise errors.ConnectionClosed()
            self.reader.feed(data)

    def _fail_rest(self, commands, started, failure):
        """Record every outstanding request as failed, drop the connection, raise."""
        for command in commands:
            self._fire(command.name, started, failure)
        self.close()
        raise failure
