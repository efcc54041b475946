"""Replies leave a connection in request order, whoever finishes first."""

import socket

from connlab.commands import Closing
from connlab.config import Settings
from connlab.connection import Connection
from connlab.protocols.http import Http
from http_wire import get


def make_connection():
    left, right = socket.socketpair()
    right.close()
    return Connection(left, None, Settings())


def test_out_of_order_completion_is_written_in_order():
    conn = make_connection()
    first, second, third = conn.reply_later(), conn.reply_later(), conn.reply_later()
    third.reply = b"3"
    second.reply = b"2"
    conn.collect_replies()
    assert conn.out == b""  # the head is not done yet
    first.reply = b"1"
    conn.collect_replies()
    assert conn.out == b"123"


def test_a_reply_waits_behind_pending_replies():
    conn = make_connection()
    slot = conn.reply_later()
    conn.reply_all([b"B"])
    slot.reply = b"A"
    conn.collect_replies()
    assert conn.out == b"AB"


def test_nothing_is_written_after_a_closing_reply():
    conn = make_connection()
    conn.reply_all([Closing(b"+OK\r\n")])
    conn.reply_all([b"+PONG\r\n"])
    assert conn.out == b"+OK\r\n" and conn.closing


def test_protocol_error_keeps_earlier_requests():
    conn = make_connection()
    requests = conn.receive(b"PING\r\n*1\r\n$x\r\n")
    assert requests == [[b"PING"]]
    assert isinstance(conn.failed, Closing)
    assert conn.failed.reply.startswith(b"-ERR Protocol error: invalid bulk length")
    assert conn.receive(b"PING\r\n") == []  # nothing is read after the error


def test_100_continue_waits_behind_the_replies_before_it():
    conn = Connection(socket.socketpair()[0], None, Settings(protocol=Http, limits=Http.Limits()))
    slots = []
    conn.process(get("/sleep?ms=5") + b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
                 lambda conn, requests, received: slots.extend(conn.reply_later() for _ in requests))  # fmt: skip
    assert len(slots) == 1 and conn.out == b""
    slots[0].reply = b"first"
    conn.collect_replies()
    assert conn.out == b"firstHTTP/1.1 100 Continue\r\n\r\n"
