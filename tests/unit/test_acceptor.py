"""Admission: MAX_CONNECTIONS, TCP_NODELAY and keepalive on every accepted connection."""

import socket

import pytest

from connlab import commands
from connlab.acceptor import admit
from connlab.config import Settings
from connlab.context import Context
from connlab.metrics import Metrics
from connlab.tally import REJECTED as REJECTED_COUNT
from connlab.tally import Board


@pytest.fixture
def accepted():
    """(server side, client side) of one loopback TCP connection."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=2)
        server, _ = listener.accept()
    yield server, client
    server.close()
    client.close()


def context(**settings):
    return Context(Settings(**settings), Metrics("lab", Board(4, commands.METRIC_LABELS)))


def option(sock, level, name):
    return sock.getsockopt(level, name)


def test_admitted_connections_get_nodelay_and_keepalive(accepted):
    server, _ = accepted
    ctx = context(keepalive=(30, 5, 4))
    assert admit(server, ctx, ctx.metrics.tally("0"))
    assert option(server, socket.IPPROTO_TCP, socket.TCP_NODELAY)
    assert option(server, socket.SOL_SOCKET, socket.SO_KEEPALIVE)
    tcp = socket.IPPROTO_TCP
    assert (option(server, tcp, socket.TCP_KEEPIDLE), option(server, tcp, socket.TCP_KEEPINTVL), option(server, tcp, socket.TCP_KEEPCNT)) == (30, 5, 4)


def test_keepalive_idle_zero_turns_it_off(accepted):
    server, _ = accepted
    ctx = context(keepalive=(0, 5, 4))
    assert admit(server, ctx, ctx.metrics.tally("0"))
    assert not option(server, socket.SOL_SOCKET, socket.SO_KEEPALIVE)


def test_over_the_limit_a_connection_is_told_and_closed(accepted):
    server, client = accepted
    ctx = context(max_connections=1)
    counts = ctx.metrics.tally("0")
    assert ctx.limit.acquire()
    assert not admit(server, ctx, counts)
    assert client.recv(100) == b"-ERR max connections reached\r\n" and client.recv(100) == b""
    assert counts.words[REJECTED_COUNT] == 1
