"""The single acceptor's dispatch policies, on real event loops that are never run (the
policies read what the loops hold) and, for stealing, two loops stepped by hand."""

import socket
import time

import pytest

from connlab import commands, dispatcher
from connlab.config import Settings
from connlab.context import Context
from connlab.metrics import Metrics
from connlab.reader import EventLoop
from connlab.tally import Board


@pytest.fixture
def loops():
    ctx = Context(Settings(idle_timeout=0), Metrics("lab", Board(16, commands.METRIC_LABELS)))
    made = [EventLoop(str(i), ctx) for i in range(4)]
    yield made
    for loop in made:
        while loop.inbox:
            loop.inbox.popleft().close()
        loop.reactor.close()


def hand(policy, times):
    """Hand `times` connections over; where each went (the loops' indices)."""
    went = []
    for _ in range(times):
        sock = socket.socket()
        policy(sock)
        went.append(next(i for i, loop in enumerate(policy.loops) if sock in loop.inbox))
    return went


def test_round_robin_takes_the_loops_in_turn(loops):
    assert hand(dispatcher.RoundRobin(loops), 8) == [0, 1, 2, 3, 0, 1, 2, 3]


def hold(loop, count):
    """Give `loop` `count` open connections (stand-ins: the policies only count them)."""
    loop.connections.update(object() for _ in range(count))


def test_least_connections_fills_the_emptiest_loop(loops):
    for loop, held in zip(loops, (3, 0, 2, 1)):
        hold(loop, held)
    # The emptiest first, counting what waits in its inbox; among equals, the first from
    # a turn that moves on each time.
    assert hand(dispatcher.LeastConnections(loops), 4) == [1, 1, 3, 3]
    assert [loop.open_connections for loop in loops] == [3, 2, 2, 3]
    loops[1].connections.clear()  # loop 1's connections closed: it is the emptiest again
    assert hand(dispatcher.LeastConnections(loops), 1) == [1]


def test_two_choices_keeps_away_from_a_loaded_loop(loops):
    policy = dispatcher.TwoChoices(loops)
    assert all(loop.track_busy for loop in loops)  # its load counts a request in hand
    hold(loops[0], 10)
    loops[0].busy_since = time.monotonic()  # the blocked loop: 10 connections and busy
    went = hand(policy, 20)
    assert 0 not in went and len(set(went)) == 3  # never the loaded one; the others share


def test_an_idle_loop_steals_a_connection_waiting_on_a_busy_one():
    ctx = Context(Settings(idle_timeout=0), Metrics("lab", Board(16, commands.METRIC_LABELS)))
    busy, idle = EventLoop("busy", ctx), EventLoop("idle", ctx)
    idle.start()
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname(), timeout=2)
    server_side, _ = listener.accept()
    try:
        dispatcher.Steal([busy, idle])
        busy.busy_since = time.monotonic() - 1  # one second into a request: it cannot open what it was handed
        busy.adopt(server_side)
        deadline = time.monotonic() + 2
        while busy.inbox and time.monotonic() < deadline:
            idle.reactor.run_once(0.02)  # only the idle loop turns
        assert not busy.inbox and len(idle.connections) == 1
        client.sendall(b"PING\r\n")
        reply = b""
        while b"\r\n" not in reply and time.monotonic() < deadline:
            idle.reactor.run_once(0.02)
            client.settimeout(0.01)
            try:
                reply += client.recv(100)
            except TimeoutError:
                pass
        assert reply == b"+PONG\r\n"  # served by the loop that took it
    finally:
        client.close()
        listener.close()
        for conn in list(idle.connections):
            conn.sock.close()
        busy.reactor.close()
        idle.reactor.close()


def test_steal_leaves_a_loop_that_is_not_busy_alone():
    ctx = Context(Settings(idle_timeout=0), Metrics("lab", Board(16, commands.METRIC_LABELS)))
    other, idle = EventLoop("other", ctx), EventLoop("idle", ctx)
    idle.start()
    a, b = socket.socketpair()
    try:
        dispatcher.Steal([other, idle])
        other.adopt(a)  # handed over, the loop simply has not turned yet
        for _ in range(5):
            idle.reactor.run_once(0.02)
        assert list(other.inbox) == [a] and not idle.connections
    finally:
        a.close()
        b.close()
        other.reactor.close()
        idle.reactor.close()
