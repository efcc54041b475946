"""The RESP request parser: framing, limits, and streams split anywhere."""

import re

import pytest

from connlab.commands import Error, Status
from connlab.protocols import ProtocolError
from connlab.protocols.resp import Limits, Resp, render
from connlab_loadgen.resp import encode


def parse(data, limits=Limits()):
    return Resp(limits).feed(data)


def test_array_of_bulk_strings():
    assert parse(encode(b"ECHO", b"hello")) == [[b"ECHO", b"hello"]]


def test_binary_safe_bulk():
    payload = bytes(range(256)) + b"\r\n\r\n*3\r\n"
    assert parse(encode(b"ECHO", payload)) == [[b"ECHO", payload]]


def test_empty_bulk_string():
    assert parse(encode(b"ECHO", b"")) == [[b"ECHO", b""]]


@pytest.mark.parametrize("line", [b"PING\r\n", b"PING\n", b"  PING  \r\n"])
def test_inline_commands(line):
    assert parse(line) == [[b"PING"]]


def test_inline_with_arguments_and_blank_lines():
    assert parse(b"\r\n\nECHO hi there\n") == [[b"ECHO", b"hi", b"there"]]


def test_empty_array_is_skipped():
    assert parse(b"*0\r\n" + encode(b"PING")) == [[b"PING"]]


def test_pipeline_keeps_order():
    stream = b"".join(encode(b"ECHO", b"%d" % i) for i in range(1000))
    assert parse(stream) == [[b"ECHO", b"%d" % i] for i in range(1000)]


def test_one_byte_at_a_time():
    stream = encode(b"ECHO", b"a\r\nb") + b"PING\r\n" + encode(b"PING")
    parser = Resp()
    got = []
    for i in range(len(stream)):
        got += parser.feed(stream[i : i + 1])
    assert got == [[b"ECHO", b"a\r\nb"], [b"PING"], [b"PING"]]


@pytest.mark.parametrize("split", range(1, 30))
def test_every_split_point(split):
    stream = encode(b"ECHO", b"hello world") + b"PING\r\n"
    parser = Resp()
    assert parser.feed(stream[:split]) + parser.feed(stream[split:]) == [[b"ECHO", b"hello world"], [b"PING"]]


def test_incomplete_request_waits():
    parser = Resp()
    assert parser.feed(b"*2\r\n$4\r\nECHO\r\n$5\r\nhel") == []
    assert parser.feed(b"lo\r\n") == [[b"ECHO", b"hello"]]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"*x\r\n", "invalid multibulk length"),
        (b"*1\r\n+PING\r\n", "expected '$', got '+'"),
        (b"*1\r\n$x\r\n", "invalid bulk length"),
        (b"*1\r\n$-1\r\n", "invalid bulk length"),
        (b"*1\r\n$4\r\nPINGxx", "bulk string not terminated by CRLF"),
        (b"*" + b"9" * 40, "too big multibulk count"),
        (b"*1\r\n$" + b"9" * 40, "too big bulk length"),
    ],
)
def test_malformed_framing(data, message):
    with pytest.raises(ProtocolError, match=re.escape(message)):
        parse(data)


def test_requests_before_an_error_are_kept():
    with pytest.raises(ProtocolError) as caught:
        parse(encode(b"PING") + b"*1\r\n$x\r\n")
    assert caught.value.requests == [[b"PING"]]


def test_bulk_limit_checked_before_the_data_arrives():
    parser = Resp(Limits(max_bulk=10))
    with pytest.raises(ProtocolError, match=r"invalid bulk length 11 \(limit 10\)"):
        parser.feed(b"*1\r\n$11\r\n")


def test_announced_4_gib_bulk_is_refused_at_once():
    with pytest.raises(ProtocolError, match="invalid bulk length 4294967296"):
        parse(b"*2\r\n$4\r\nECHO\r\n$4294967296\r\n")


def test_bulk_at_the_limit_is_accepted():
    assert parse(encode(b"ECHO", b"x" * 10), Limits(max_bulk=10)) == [[b"ECHO", b"x" * 10]]


def test_array_limit():
    with pytest.raises(ProtocolError, match=r"invalid multibulk length 4 \(limit 3\)"):
        parse(b"*4\r\n", Limits(max_array=3))


def test_inline_limit():
    parser = Resp(Limits(max_inline=8))
    assert parser.feed(b"PING abc") == []  # at the limit, still waiting for \n
    with pytest.raises(ProtocolError, match="too big inline request"):
        parser.feed(b"d")


def test_rendering():
    assert render(Status("OK")) == b"+OK\r\n" and render(Status("QUEUED")) == b"+QUEUED\r\n"
    assert render(Error("ERR bad\r\nthing")) == b"-ERR bad  thing\r\n"
    assert render(-3) == b":-3\r\n"
    assert render(b"a\r\nb") == b"$4\r\na\r\nb\r\n"
    assert render([b"x", b""]) == b"*2\r\n$1\r\nx\r\n$0\r\n\r\n"
