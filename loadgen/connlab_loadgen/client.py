"""TcpClient: Locust's custom-client pattern for a protocol over raw TCP, RESP or HTTP
(its codec, protocols.py, encodes and decodes; the client only moves bytes and times).

Every request is recorded once, with its own latency, also when several are pipelined
on one write: successes in bulk through the recorder (recorder.py), failures by firing
Locust's `request` event, then raised as LoadgenFailure for the user to handle
(reconnect); they never end a user.

The connection is a non-blocking socket driven by gevent's hub directly: one read
and one write watcher per connection, made when it opens, and one watchdog per
process for the reply timeout. A request then costs the system calls and one switch
to the hub while the reply is on its way, and no more (gevent's cooperative socket
would start and stop a timer, and raise an exception, at each wait).
"""

import errno
import os
import socket as stdsocket
import time
import weakref

import gevent
from gevent import monkey, socket

from . import errors, metrics, resp
from .recorder import Recorder

RECV_BYTES = 65536
_READ, _WRITE = 1, 2  # libev/libuv io watcher events
# The standard library's own socket, even where Locust has patched in gevent's.
RawSocket = monkey.get_original("socket", "socket")


class Watchdog:
    """Enforces --request-timeout on every connection of this process with one check
    every quarter timeout: a reply later than its timeout (to within a quarter of
    it) fails the request with ReplyTimeout, raised where its user waits."""

    def __init__(self):
        self.clients = weakref.WeakSet()
        self._greenlet = None

    def watch(self, client):
        self.clients.add(client)
        if self._greenlet is None or self._greenlet.dead:
            self._greenlet = gevent.spawn(self._run)

    def _run(self):
        while self.clients:
            gevent.sleep(min(client.timeout for client in list(self.clients)) / 4)
            now = time.perf_counter()
            for client in list(self.clients):
                sent = client.waiting_since
                if sent is not None and now - sent > client.timeout:
                    # From the hub, not from here: a greenlet thrown into returns to
                    # the hub when it next waits.
                    gevent.get_hub().loop.run_callback(client.expire, sent)


WATCHDOG = Watchdog()


class TcpClient:
    def __init__(self, environment, host, port, timeout=5.0, codec=resp):
        self.environment = environment
        self.host, self.port, self.timeout = host, port, timeout
        self.codec = codec
        self.recorder = Recorder.of(environment)
        self.sock = None
        self.reader = None
        self.waiting_since = None  # perf_counter() of the write whose replies are awaited
        self._waiter = None  # the greenlet awaiting them

    @property
    def connected(self):
        return self.sock is not None

    def _fire(self, name, started, exception):
        self.environment.events.request.fire(
            request_type=self.codec.METHOD,
            name=name,
            response_time=(time.perf_counter() - started) * 1000.0,
            response_length=0,
            exception=exception,
            context={},
        )

    def connect(self, started=None):
        """Open the connection; a failure is recorded under the name "connect".

        Made by hand (a non-blocking connect and a wait on our own write watcher), not
        with gevent's socket, whose own watchers on the same descriptor would outlive
        it and confuse the next socket that gets the same number (its connect spins)."""
        started = time.perf_counter() if started is None else started
        hub, sock, writable = gevent.get_hub(), None, None
        try:
            with gevent.Timeout(self.timeout, errors.ConnectTimeout):
                family, kind, proto, _, address = socket.getaddrinfo(self.host, self.port, type=stdsocket.SOCK_STREAM)[0]
                sock = RawSocket(family, kind, proto)
                sock.setblocking(False)
                writable = hub.loop.io(sock.fileno(), _WRITE)
                error = sock.connect_ex(address)
                if error == errno.EINPROGRESS:
                    hub.wait(writable)
                    error = sock.getsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_ERROR)
                if error:
                    raise OSError(error, os.strerror(error))
        except (OSError, errors.ConnectTimeout) as exc:
            if sock is not None:
                writable and writable.close()
                sock.close()
            failure = exc if isinstance(exc, errors.ConnectTimeout) else errors.from_connect_error(exc)
            self._fire("connect", started, failure)
            raise failure from exc
        sock.setsockopt(stdsocket.IPPROTO_TCP, stdsocket.TCP_NODELAY, 1)
        self._hub = hub
        self._readable = hub.loop.io(sock.fileno(), _READ)
        self._writable = writable
        self.sock = sock
        self.reader = self.codec.Decoder()
        metrics.OPEN_CONNECTIONS.inc()
        WATCHDOG.watch(self)

    def close(self):
        if self.sock is not None:
            try:
                WATCHDOG.clients.discard(self)
                self._readable.close()
                self._writable.close()
                self.sock.close()
            finally:
                self.sock = None
                self.reader = None
                metrics.OPEN_CONNECTIONS.dec()

    def execute(self, commands, started=None, wire=None):
        """Write `commands` (one pipeline; `wire`, their bytes, if already joined) at
        once, then read one reply per command.

        Each reply is recorded as its own request, timed from `started` (the scheduled
        send time in open-loop mode, else now). Returns the number that succeeded.
        """
        clock = time.perf_counter
        started = clock() if started is None else started
        if self.sock is None:
            self.connect(started)
        ok, index, codec = 0, 0, self.codec
        self.waiting_since, self._waiter = clock(), gevent.getcurrent()
        try:
            self._send(wire if wire is not None else b"".join(command.wire for command in commands))
            for index, command in enumerate(commands):
                reply = self._read_reply()
                now = clock()
                if reply == command.expected:
                    self.recorder.ok(command.name, (now - started) * 1000.0, len(reply), now, codec.METHOD)
                    ok += 1
                elif isinstance(reply, codec.ReplyError):
                    self._fire(command.name, started, errors.ServerError(str(reply)))
                else:
                    self._fire(command.name, started, errors.UnexpectedReply(reply))
        except errors.LoadgenFailure as failure:
            self._fail_rest(commands[index:], started, failure)
        except codec.ProtocolError as exc:
            self._fail_rest(commands[index:], started, errors.ProtocolError(exc, codec.METHOD))
        except OSError as exc:
            self._fail_rest(commands[index:], started, errors.from_io_error(exc))
        finally:
            self.waiting_since = None
        return ok

    def expire(self, sent):
        """The watchdog's verdict on the write made at `sent`, if still awaited."""
        if self.waiting_since == sent:
            self.waiting_since = None
            self._waiter.throw(errors.ReplyTimeout())

    def _send(self, data):
        view = memoryview(data)
        while view:
            try:
                view = view[self.sock.send(view) :]
            except BlockingIOError:
                self._hub.wait(self._writable)

    def _read_reply(self):
        """The next reply. The first of a write is never there yet: wait, then read."""
        while (reply := self.reader.gets()) is False:
            self._hub.wait(self._readable)
            try:
                data = self.sock.recv(RECV_BYTES)
            except BlockingIOError:
                continue  # a spurious wake-up
            if not data:
                raise errors.ConnectionClosed()
            self.reader.feed(data)
        return reply

    def _fail_rest(self, commands, started, failure):
        """Record every outstanding request as failed, drop the connection, raise."""
        for command in commands:
            self._fire(command.name, started, failure)
        self.close()
        raise failure
