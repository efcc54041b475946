"""HTTP's replies: each route's command and status, the reply head, when the connection
closes, and the statuses of input the server refuses (parser properties: test_http_protocol.py)."""

import re

import pytest
from connlab import commands
from connlab.commands import Closing
from connlab.config import Settings
from connlab.protocols import PROTOCOLS, ProtocolError

Http = PROTOCOLS["http"]
HEAD = re.compile(rb"HTTP/1\.1 (\d{3}) [A-Za-z ]+\r\nContent-Type: text/plain\r\nContent-Length: (\d+)\r\n"
                  rb"Date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\r\n((?:[A-Za-z-]+: [^\r]+\r\n)*)\r\n")


def serve(data, settings=Settings.from_env({"PROTOCOL": "http"})):
    """[(label, status, extra headers, body, closes)] of the requests in `data`."""
    answered = []
    for request in Http(settings.limits).feed(data):
        label, result = commands.execute(request, settings)
        reply = Http.render(result, request)
        closes = type(reply) is Closing
        head = HEAD.match(reply.reply if closes else reply)
        assert head, reply
        body = (reply.reply if closes else reply)[head.end():]
        assert int(head[2]) == len(body)
        answered.append((label, int(head[1]), head[3], body, closes))
    return answered


def get(path, version=b"1.1", headers=b""):
    return b"GET %s HTTP/%s\r\nHost: lab\r\n%s\r\n" % (path, version, headers)


def test_each_route_runs_its_command():
    answered = serve(get(b"/ping") + b"POST /echo HTTP/1.1\r\nHost: lab\r\nContent-Length: 5\r\n\r\nhello"
                     + get(b"/sleep?ms=1") + get(b"/work?us=10") + get(b"/info"))
    assert [(label, status, body) for label, status, _, body, _ in answered[:4]] == [
        ("PING", 200, b"PONG"), ("ECHO", 200, b"hello"), ("SLEEP", 200, b"OK"), ("WORK", 200, b"OK")]
    assert answered[4][:2] == ("INFO", 200) and b"protocol:http\r\n" in answered[4][3]


@pytest.mark.parametrize("request_bytes, status, header", [
    (get(b"/nowhere"), 404, b""),
    (b"POST /ping HTTP/1.1\r\nHost: lab\r\nContent-Length: 0\r\n\r\n", 405, b"Allow: GET, HEAD\r\n"),
    (get(b"/echo"), 405, b"Allow: POST\r\n"),
    (get(b"/sleep"), 400, b""),
    (get(b"/sleep?ms=soon"), 400, b""),
    (get(b"/work?us=-1"), 400, b""),
])
def test_what_cannot_be_served_gets_its_status_and_keeps_the_connection(request_bytes, status, header):
    [(label, got, headers, body, closes)] = serve(request_bytes)
    assert (got, headers, closes) == (status, header, False)
    assert body.strip()  # says what is wrong


@pytest.mark.parametrize("version, headers, connection, closes", [
    (b"1.1", b"", b"", False),
    (b"1.1", b"Connection: close\r\n", b"Connection: close\r\n", True),
    (b"1.0", b"", b"Connection: close\r\n", True),
    (b"1.0", b"Connection: keep-alive\r\n", b"Connection: keep-alive\r\n", False),
])
def test_persistent_connections(version, headers, connection, closes):
    [(_, status, got, _, closed)] = serve(get(b"/ping", version, headers))
    assert (status, got, closed) == (200, connection, closes)


@pytest.mark.parametrize("data", [
    b"GET /ping HTTP/1.1\r\n\r\n",
    b"GET /ping HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
    b"GET /ping HTTP/1.0\r\nHost: a\r\nHOST: b\r\nConnection: keep-alive\r\n\r\n",
], ids=["none", "two", "two-in-1.0"])
def test_a_request_without_one_host_gets_400_and_closes(data):
    (label, status, headers, body, closes), _ = serve(data + get(b"/ping"))  # the next is never answered
    assert (label, status, headers, closes) == ("unknown", 400, b"Connection: close\r\n", True)
    assert b"Host" in body


@pytest.mark.parametrize("path", [b"/ping", b"/nowhere"])
def test_head_gets_get_s_head_without_the_body(path):
    [request] = Http().feed(b"HEAD %s HTTP/1.1\r\nHost: lab\r\n\r\n" % path)
    reply = Http.render(commands.execute(request, Settings.from_env({"PROTOCOL": "http"}))[1], request)
    head = HEAD.fullmatch(reply)
    [(_, status, _, body, _)] = serve(get(path))
    assert head and (int(head[1]), int(head[2])) == (status, len(body)), reply


def test_http_1_0_may_leave_host_out():
    [(label, status, _, _, _)] = serve(b"GET /ping HTTP/1.0\r\n\r\n")
    assert (label, status) == ("PING", 200)


@pytest.mark.parametrize("data, status", [
    (b"NOT HTTP\r\n\r\n", 400),
    (b"GET /ping HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    (b"POST /echo HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc", 400),
    (b"POST /echo HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n", 413),
    (b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n" + b"x" * 1048577, 413),
    (get(b"/ping", headers=b"X-Big: " + b"x" * 9000 + b"\r\n"), 431),
    (b"GET /ping HTTP/1.1\r\nX-Big: " + b"x" * 9000, 431),  # before the head ends
])
def test_hostile_input_gets_its_status(data, status):
    with pytest.raises(ProtocolError) as raised:
        Http().feed(data)
    reply = Http.error(raised.value)
    assert reply.startswith(b"HTTP/1.1 %d " % status) and b"Connection: close\r\n" in reply


def test_a_request_before_an_error_is_still_answered():
    with pytest.raises(ProtocolError) as raised:
        Http().feed(get(b"/ping") + b"BROKEN\r\n\r\n")
    assert [list(request) for request in raised.value.requests] == [[b"PING"]]


def test_a_head_that_takes_too_long_gets_408():
    parser = Http(Http.Limits(header_timeout=2))
    parser.feed(b"GET /ping HTTP/1.1\r\nHost:")
    started = parser._since
    assert parser.stalled(started + 1) is None
    assert parser.stalled(started + 3).startswith(b"HTTP/1.1 408 ")
    parser.feed(b" lab\r\n\r\n")  # the head ends: nothing is stalled
    assert parser.stalled(started + 100) is None


def test_probe_and_refusal():
    request, expected = Http.PROBE
    [(label, status, _, body, closes)] = serve(request)
    assert (label, status, body, closes) == ("PING", 200, b"PONG", True)
    assert Http.REFUSAL.startswith(b"HTTP/1.1 503 ") and b"Connection: close\r\n" in Http.REFUSAL
    head, _, body = Http.REFUSAL.partition(b"\r\n\r\n")
    assert int(re.search(rb"Content-Length: (\d+)", head)[1]) == len(body)
