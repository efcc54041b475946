"""Hostile HTTP input on every architecture and mode, both builds: each offence is
answered with its status and `Connection: close`, then the connection is closed, while
another connection is served meanwhile and loses nothing. The servers run with small
limits (a 1 s HEADER_TIMEOUT), so they are this module's own."""

import contextlib
import select
import socket
import time

import pytest

from conftest import BUILDS_AND_CONFIGS, CONFIGS, run_server, wait_until
from http_wire import Replies, check_reply, exchange, get, post, request
from metrics_util import scrape, total

pytestmark = pytest.mark.integration

LIMITS = {"MAX_CONNECTIONS": 8, "MAX_HEADER": 4096, "MAX_BODY": 65536, "HEADER_TIMEOUT": 1}
NO_HEALTHCHECK = {"healthcheck": {"test": ["NONE"]}}  # its connections would take a slot


@pytest.fixture(scope="module", params=BUILDS_AND_CONFIGS)
def config(request, docker_client):
    python, name = request.param
    return python, *CONFIGS[name]


@pytest.fixture(scope="module")
def server(config):
    python, arch, env = config
    with run_server(arch, python=python, docker=NO_HEALTHCHECK, PROTOCOL="http", **{**LIMITS, **env}) as server:
        server.arch, server.env = arch, env
        yield server


def connect(server):
    sock = server.connect(timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


@contextlib.contextmanager
def bystander(server):
    """A well-behaved connection open throughout: served before, and after, whatever the
    offender did meanwhile."""
    with connect(server) as sock:
        replies = Replies(sock)
        sock.sendall(post("/echo", b"before"))
        check_reply(replies.next(), 200, b"before")
        yield sock
        sock.sendall(post("/echo", b"after") + get("/ping"))
        check_reply(replies.next(), 200, b"after")
        check_reply(replies.next(), 200, b"PONG")


def refused(server, data, status, answered=0):
    """Send `data` on a fresh connection: `answered` replies 200, then one `status` with
    Connection: close, then the close; another connection is served meanwhile."""
    with bystander(server), connect(server) as offender:
        offender.sendall(data)
        replies = Replies(offender)
        for _ in range(answered):
            assert replies.next().status == 200
        check_reply(replies.next(), status, connection="close")
        assert replies.closed(), "the server closes after its refusal"


MALFORMED = {
    "not-http": b"HELLO\r\n\r\n",
    "binary": b"\x00\x01\x02\xff\r\n\r\n",
    "no-colon": b"GET /ping HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
    "space-in-target": b"GET /pi ng HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad-version": b"GET /ping HTTP/1.x\r\nHost: x\r\n\r\n",
    "bad-length": b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 12a\r\n\r\n",
    "negative-length": b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    "bad-chunk-size": b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
    "chunk-longer-than-said": b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n0\r\n\r\n",
    "bare-lf-in-chunk": b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\nab\r\n0\r\n\r\n",
    "no-host": b"GET /ping HTTP/1.1\r\n\r\n",
    "two-hosts": b"GET /ping HTTP/1.1\r\nHost: x\r\nhost: y\r\n\r\n",
}


@pytest.mark.parametrize("frame", MALFORMED)
def test_malformed_is_400(server, frame):
    refused(server, MALFORMED[frame], 400)


def test_requests_before_a_malformed_one_are_answered(server):
    refused(server, get("/ping") + post("/echo", b"x") + b"BROKEN\x00\r\n\r\n", 400, answered=2)


@pytest.mark.parametrize("data", [
    get("/ping", headers=[("Connection", "Upgrade, HTTP2-Settings"), ("Upgrade", "h2c"), ("HTTP2-Settings", "AAMAAABkAAQAoAAAAAIAAAAA")]),
    b"CONNECT /ping HTTP/1.1\r\nHost: x\r\n\r\n",
], ids=["upgrade-h2c", "connect"])  # fmt: skip
def test_an_upgrade_is_refused_with_one_reply(server, data):
    """No other protocol is spoken: one 400 answers the request, not its 200 and a 400."""
    refused(server, data, 400)


@pytest.mark.parametrize("where", ["request-line", "one-header", "many-headers"])
def test_head_over_max_header_is_431(server, where):
    big = LIMITS["MAX_HEADER"] + 100
    data = {
        "request-line": get("/ping?pad=" + "x" * big),
        "one-header": get("/ping", headers=[("X-Big", "y" * big)]),
        "many-headers": get("/ping", headers=[(f"X-H{n}", "z" * 40) for n in range(big // 40)]),
    }[where]
    refused(server, data, 431)


def test_head_under_max_header_is_served(server):
    # The whole head, blank line included, a few bytes under the limit: whether line
    # ends count or not, it is within it.
    pad = LIMITS["MAX_HEADER"] - len(get("/ping", headers=[("X-Pad", "")])) - 8
    data = get("/ping", headers=[("X-Pad", "p" * pad)])
    assert len(data) == LIMITS["MAX_HEADER"] - 8
    with connect(server) as sock:
        check_reply(exchange(sock, data), 200, b"PONG")


@pytest.mark.parametrize("length", [LIMITS["MAX_BODY"] + 1, 10**15])
def test_announced_body_over_max_body_is_413_at_once(server, length):
    # The head only: the refusal must come before any of the body is sent.
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % length
    refused(server, head, 413)


def test_body_at_max_body_is_served(server):
    payload = b"b" * LIMITS["MAX_BODY"]
    with connect(server) as sock:
        check_reply(exchange(sock, post("/echo", payload)), 200, payload)


def test_chunked_body_is_413_as_soon_as_it_passes_max_body(server):
    chunk = b"c" * 4096
    with bystander(server), connect(server) as offender:
        offender.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(LIMITS["MAX_BODY"] // len(chunk)):  # up to the limit: nothing to say yet
            offender.sendall(b"1000\r\n" + chunk + b"\r\n")
        assert select.select([offender], [], [], 0.2)[0] == [], "no reply at MAX_BODY bytes of body"
        offender.sendall(b"1\r\nc\r\n")  # one byte over, and no end of the body
        replies = Replies(offender)
        check_reply(replies.next(), 413, connection="close")
        assert replies.closed()


@pytest.mark.parametrize("headers", [
    [("Content-Length", "5"), ("Transfer-Encoding", "chunked")],
    [("Transfer-Encoding", "chunked"), ("Content-Length", "5")],
    [("Content-Length", "5"), ("Content-Length", "6")],
], ids=["cl-then-te", "te-then-cl", "two-lengths"])  # fmt: skip
def test_ambiguous_body_length_is_400(server, headers):
    refused(server, request("POST", "/echo", headers=headers) + b"hello", 400)


def test_slowloris_head_is_408_after_header_timeout(server, config):
    timeout = LIMITS["HEADER_TIMEOUT"]
    with bystander(server) as other, connect(server) as dribbler:
        started = time.monotonic()
        dribbler.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n")
        while time.monotonic() - started < timeout + 5:
            # A header line a quarter second: the head never ends, the bytes keep coming.
            if select.select([dribbler], [], [], 0.25)[0]:
                break
            try:
                dribbler.sendall(b"X-Slow: %d\r\n" % time.monotonic_ns())
            except OSError:
                break
            # Meanwhile the other connection is served.
            check_reply(exchange(other, get("/ping")), 200, b"PONG")
        waited = time.monotonic() - started
        replies = Replies(dribbler)
        check_reply(replies.next(), 408, connection="close")
        assert replies.closed()
        assert timeout <= waited < timeout + 3, f"408 after {waited:.2f}s (HEADER_TIMEOUT={timeout})"


def test_a_quiet_head_is_408_too(server):
    with bystander(server), connect(server) as quiet:
        quiet.sendall(b"GET /ping HTTP/1.1\r\n")  # then nothing
        started = time.monotonic()
        replies = Replies(quiet)
        check_reply(replies.next(), 408, connection="close")
        assert replies.closed()
        assert time.monotonic() - started < LIMITS["HEADER_TIMEOUT"] + 3


@pytest.mark.parametrize("first", [
    post("/echo", None, chunks=[b"x" * 200]),
    post("/echo", b"y" * 200 + b"\r\n\r\n"),
], ids=["after-chunked", "after-body-with-blank-line"])  # fmt: skip
def test_a_head_left_unfinished_after_a_request_is_408(server, first):
    """The unfinished head comes in the same packet as a whole request before it."""
    with bystander(server), connect(server) as sock:
        sock.sendall(first + b"GET /ping HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        replies = Replies(sock)
        check_reply(replies.next(), 200)
        check_reply(replies.next(), 408, connection="close")
        assert replies.closed()
        assert time.monotonic() - started < LIMITS["HEADER_TIMEOUT"] + 3


def test_max_connections_is_503(server):
    wait_until(lambda: total(scrape(server), "connlab_connections_active") == 0, 10, "no open connections")
    held = [connect(server) for _ in range(LIMITS["MAX_CONNECTIONS"])]
    try:
        for sock in held:  # each is admitted and served
            check_reply(exchange(sock, get("/ping")), 200, b"PONG")
        with connect(server) as extra:
            replies = Replies(extra)
            reply = replies.next()
            # Made once, the refusal may go without a Date (RFC 9110 lets a 5xx reply).
            if reply.header("Date") is None:
                reply.headers.insert(2, ("Date", "Sun, 06 Dec 2026 00:00:00 GMT"))
            check_reply(reply, 503, b"max connections reached\n", connection="close")
            assert replies.closed()
        for sock in held:  # nothing lost meanwhile
            check_reply(exchange(sock, post("/echo", b"ok")), 200, b"ok")
        held.pop().close()
        # A slot is free again once the server has seen that close.
        wait_until(lambda: ping_on_new_connection(server), 10, "the freed slot to admit a connection")
    finally:
        for sock in held:
            sock.close()
    assert total(scrape(server), "connlab_connections_rejected_total") >= 1


def ping_on_new_connection(server):
    with connect(server) as sock:
        return exchange(sock, get("/ping")).status == 200
