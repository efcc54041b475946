"""The event loop driven step by step, with a worker pool whose replies the test
releases in the order it chooses: deterministic, no threads, real loopback sockets."""

import gc
import select
import socket
import weakref
from dataclasses import dataclass

import pytest

from connlab import commands
from connlab.config import Settings
from connlab.context import Context
from connlab.lifecycle import State
from connlab.metrics import Metrics
from connlab.reader import EventLoop
from connlab.tally import Board

PONG = b"+PONG\r\n"


@dataclass
class Job:
    conn: object
    slot: object
    done: object


class GatedPool:
    """Holds every request until the test releases it (fills its reply, tells the loop)."""

    def __init__(self):
        self.jobs = []

    def submit(self, requests, received, queued, conn, done):
        self.jobs.extend(Job(conn, conn.reply_later(), done) for _ in requests)

    @staticmethod
    def release(job, reply=PONG):
        job.slot.reply = reply
        job.done(job.conn)


class Lab:
    def __init__(self, pooled, **settings):
        self.ctx = Context(Settings(idle_timeout=0, **settings), Metrics("lab", Board(8, commands.METRIC_LABELS)))
        self.pool = GatedPool() if pooled else None
        self.loop = EventLoop("0", self.ctx, self.pool)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.loop.watch_listener(self.listener)
        self.loop.start()
        self.clients = []

    def connect(self, data=b""):
        client = socket.create_connection(self.listener.getsockname(), timeout=2)
        self.clients.append(client)
        client.sendall(data)
        return client

    def step_until(self, condition, what, steps=100):
        """Turn the loop (at most `steps` times, 50 ms each) until condition() holds."""
        for _ in range(steps):
            if condition():
                return
            self.loop.reactor.run_once(0.05)
        raise AssertionError(f"the loop never got to: {what}")

    def open_slots(self):
        return self.ctx.limit._open.value

    def connection(self):
        self.step_until(lambda: self.loop.connections, "a connection")
        (conn,) = self.loop.connections
        return conn

    def close(self):
        for client in self.clients:
            client.close()
        for conn in list(self.loop.connections):
            conn.sock.close()
        self.listener.close()
        self.loop.reactor.close()


@pytest.fixture
def pooled():
    lab = Lab(pooled=True, max_pending=2)
    yield lab
    lab.close()


@pytest.fixture
def inline():
    lab = Lab(pooled=False)
    yield lab
    lab.close()


def received(client, length):
    """What the client has been sent so far, up to `length` bytes, without waiting
    (peeked: it stays to be read)."""
    if not select.select([client], [], [], 0)[0]:
        return b""
    return client.recv(length, socket.MSG_PEEK)


def test_a_late_reply_of_a_closed_connection_does_not_hide_the_next_ones(pooled):
    """Regression: connection A closes with a request at a worker; B gets A's fd. A's
    late reply is handed back after B's, before the loop looks. B must still be
    answered, and closed when its client leaves."""
    a = pooled.connect(b"PING\r\n")
    pooled.step_until(lambda: len(pooled.pool.jobs) == 1, "A's request at a worker")
    a_conn = pooled.pool.jobs[0].conn
    a.close()
    pooled.step_until(lambda: a_conn.state is State.CLOSED, "A closed")
    b = pooled.connect(b"PING\r\nPING\r\n")  # two in flight: MAX_PENDING, B pauses
    pooled.step_until(lambda: len(pooled.pool.jobs) == 3, "B's requests at workers")
    b_conn = pooled.pool.jobs[1].conn
    assert b_conn.fd == a_conn.fd and b_conn.state is State.PAUSED  # the bug's conditions
    for job in (pooled.pool.jobs[1], pooled.pool.jobs[0], pooled.pool.jobs[2]):  # B, late A, B
        pooled.pool.release(job)
    pooled.step_until(lambda: b_conn.state is State.READING, "B answered")
    assert received(b, 2 * len(PONG)) == 2 * PONG
    b.close()
    pooled.step_until(lambda: b_conn.state is State.CLOSED, "B let go when its client left")
    assert pooled.open_slots() == 0


def test_a_late_reply_does_not_hide_a_protocol_error_behind_pooled_requests(pooled):
    a = pooled.connect(b"PING\r\n")
    pooled.step_until(lambda: len(pooled.pool.jobs) == 1, "A's request at a worker")
    a.close()
    pooled.step_until(lambda: pooled.open_slots() == 0, "A closed")
    b = pooled.connect(b"PING\r\n*1\r\n$x\r\n")
    pooled.step_until(lambda: len(pooled.pool.jobs) == 2, "B's request at a worker")
    b_conn = pooled.pool.jobs[1].conn
    assert b_conn.state is State.DRAINING
    pooled.pool.release(pooled.pool.jobs[1])
    pooled.pool.release(pooled.pool.jobs[0])  # A's, late
    pooled.step_until(lambda: b_conn.state is State.CLOSED, "B answered and closed")
    assert received(b, 100).startswith(PONG + b"-ERR Protocol error: invalid bulk length")
    assert pooled.open_slots() == 0


@pytest.mark.parametrize(
    "sent, state",
    [
        (b"PING\r\n", State.READING),  # a request at a worker
        (b"PING\r\nPING\r\nPING\r\n", State.PAUSED),  # MAX_PENDING at workers
        (b"PING\r\n*1\r\n$x\r\n", State.DRAINING),  # a protocol error held behind one
    ],
    ids=lambda v: v.value if isinstance(v, State) else None,
)
def test_a_client_that_leaves_is_let_go_while_the_pool_works(pooled, sent, state):
    client = pooled.connect(sent)
    pooled.step_until(lambda: pooled.pool.jobs, "requests at workers")
    conn = pooled.connection()
    pooled.step_until(lambda: conn.state is state, f"{state.value}")
    client.close()  # FIN: the client has nothing unread
    pooled.step_until(lambda: conn.state is State.CLOSED, "the connection let go")
    assert pooled.open_slots() == 0 and not pooled.loop.connections
    for job in pooled.pool.jobs:  # the pool answers late: dropped where produced
        pooled.pool.release(job)
    assert not pooled.loop.reactor._soon, "a reply for a closed connection was handed back"


def test_a_client_that_half_closes_while_its_replies_wait_is_let_go(inline):
    client = inline.connect()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    conn = inline.connection()
    request = b"ECHO " + b"x" * 4000 + b"\r\n"
    while conn.state is not State.WRITING:  # the client reads nothing: replies pile up
        client.sendall(request * 16)
        inline.loop.reactor.run_once(0.05)
    client.shutdown(socket.SHUT_WR)  # FIN, no reset
    inline.step_until(lambda: conn.state is State.CLOSED, "the connection let go")
    assert inline.open_slots() == 0


def test_draining_lingers_until_the_client_leaves(inline):
    client = inline.connect(b"PING\r\n")
    conn = inline.connection()
    inline.step_until(lambda: received(client, len(PONG)) == PONG, "the reply")
    inline.loop.stop()
    inline.step_until(lambda: conn.state is State.LINGERING, "lingering")
    assert client.recv(10) == PONG and client.recv(10) == b""  # the reply, then the server's FIN
    client.close()
    inline.step_until(lambda: conn.state is State.CLOSED, "closed on the client's EOF")
    assert not inline.loop.reactor._running  # drained: the loop returns


def test_a_served_connection_is_freed_without_the_garbage_collector(inline):
    """No reference cycle per connection: once closed, reference counting frees it."""
    gc.disable()
    try:
        client = inline.connect(b"PING\r\n")
        conn = weakref.ref(inline.connection())
        inline.step_until(lambda: received(client, len(PONG)) == PONG, "the reply")
        client.close()
        inline.step_until(lambda: not inline.loop.connections, "closed")
        assert conn() is None
    finally:
        gc.enable()


def test_the_command_table_is_fetched_once_per_thread(monkeypatch):
    calls = []
    table = commands.command_table()
    monkeypatch.setattr(commands, "command_table", lambda: calls.append(1) or table)
    lab = Lab(pooled=False)  # its thread's executor fetches the table
    try:
        client = lab.connect()
        for _ in range(3):  # three reads
            client.sendall(b"PING\r\n")
            lab.step_until(lambda: received(client, len(PONG)) == PONG, "the reply")
            client.recv(len(PONG))
        assert len(calls) == 1
    finally:
        lab.close()
