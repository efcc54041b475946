"""HTTP/1.1 (PROTOCOL=http, docs/protocol.md) on every architecture and mode, both builds:
every route and status, the exact reply head, persistent connections, pipelining,
request bodies, the metrics; then real clients (curl, http.client, Chromium, wrk)."""

import datetime
import email.utils
import http.client
import os
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest

from browser import headless_chromium
from conftest import BUILDS_AND_CONFIGS, CONFIGS, TAG, run_server, wait_until
from http_wire import Replies, check_reply, exchange, get, post, request
from metrics_util import scrape, total

pytestmark = pytest.mark.integration

NO_HEALTHCHECK = {"healthcheck": {"test": ["NONE"]}}  # its GET /ping would skew the counts
LOADGEN_IMAGE = f"connlab/loadgen:{TAG}"


@pytest.fixture(scope="module", params=BUILDS_AND_CONFIGS)
def server(request, docker_client):
    python, name = request.param
    arch, env = CONFIGS[name]
    with run_server(arch, python=python, docker=NO_HEALTHCHECK, PROTOCOL="http", **env) as server:
        server.arch, server.env, server.python = arch, env, python
        yield server


def connect(server, timeout=10):
    sock = server.connect(timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


# (request, status, body or None for any, Allow header): the spec's route table.
ROUTES = {
    "ping": (get("/ping"), 200, b"PONG", None),
    "echo": (post("/echo", b"hello, world"), 200, b"hello, world", None),
    "echo-empty": (post("/echo", b""), 200, b"", None),
    "echo-binary": (post("/echo", bytes(range(256)) + b"\r\n\r\nGET / HTTP/1.1\r\n"), 200,
                    bytes(range(256)) + b"\r\n\r\nGET / HTTP/1.1\r\n", None),
    "sleep": (get("/sleep?ms=5"), 200, b"OK", None),
    "work": (get("/work?us=200"), 200, b"OK", None),
    "unknown-path": (get("/nosuch"), 404, None, None),
    "root": (get("/"), 404, None, None),
    "ping-by-post": (post("/ping", b"x"), 405, None, "GET, HEAD"),
    "echo-by-get": (get("/echo"), 405, None, "POST"),
    "sleep-by-post": (post("/sleep?ms=1", b""), 405, None, "GET, HEAD"),
    "info-by-delete": (request("DELETE", "/info"), 405, None, "GET, HEAD"),
    "sleep-not-a-number": (get("/sleep?ms=abc"), 400, b"ERR milliseconds is not an integer: 'abc'", None),
    "sleep-without-ms": (get("/sleep"), 400, None, None),
    "work-negative": (get("/work?us=-5"), 400, b"ERR microseconds must not be negative", None),
}  # fmt: skip


@pytest.mark.parametrize("route", ROUTES)
def test_route(server, route):
    data, status, body, allow = ROUTES[route]
    with connect(server) as sock:
        check_reply(exchange(sock, data), status, body, allow=allow)
        # Not hostile input: the connection stays open and serves the next request.
        check_reply(exchange(sock, get("/ping")), 200, b"PONG")


def test_head_is_get_without_its_body(server):
    """RFC 9110 §9.3.2: HEAD gets GET's status and headers, Content-Length included, and
    no body: the next reply on the connection starts right after the head."""
    with connect(server) as sock:
        paths = {"/ping": (200, None), "/nosuch": (404, None), "/echo": (405, "POST")}  # HEAD is GET on GET's routes only
        sock.sendall(b"".join(request("HEAD", path) + get(path) for path in paths))
        replies = Replies(sock)
        for status, allow in paths.values():
            head, whole = replies.next(bodiless=True), replies.next()
            check_reply(whole, status, allow=allow)
            assert head.status == status and [name for name, _ in head.headers] == [name for name, _ in whole.headers]
            assert head.header("Content-Length") == str(len(whole.body)), (head.head, whole.head)


def test_info_says_the_protocol_and_architecture(server):
    with connect(server) as sock:
        reply = exchange(sock, get("/info"))
    check_reply(reply, 200)
    assert reply.body.endswith(b"\r\n")
    fields = dict(line.split(":", 1) for line in reply.body.decode().split("\r\n")[:-1])
    assert fields["protocol"] == "http"
    assert fields["arch"] == server.arch
    assert fields["python"].startswith("3.13") and fields["python"].endswith("t") == (server.python == "3.13t")


def test_exact_reply_head(server):
    with connect(server) as sock:
        sock.sendall(get("/ping"))
        raw = b""
        while not raw.endswith(b"PONG"):
            chunk = sock.recv(4096)
            assert chunk, raw
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    status, content_type, length, date = head.split(b"\r\n")
    assert (status, content_type, length, body) == (b"HTTP/1.1 200 OK", b"Content-Type: text/plain", b"Content-Length: 4", b"PONG")
    sent = email.utils.parsedate_to_datetime(date.removeprefix(b"Date: ").decode())
    assert abs(sent - datetime.datetime.now(datetime.timezone.utc)) < datetime.timedelta(seconds=30)


def test_http11_connections_persist_by_default(server):
    with connect(server) as sock:
        replies = Replies(sock)
        for n in range(5):
            sock.sendall(post("/echo", b"round %d" % n))
            check_reply(replies.next(), 200, b"round %d" % n)
        assert not replies.closed(timeout=0.3), "an HTTP/1.1 connection stays open"


def test_http10_closes_unless_keep_alive(server):
    with connect(server) as sock:
        replies = Replies(sock)
        sock.sendall(get("/ping", version="1.0"))
        check_reply(replies.next(), 200, b"PONG", connection="close")
        assert replies.closed()
    with connect(server) as sock:
        replies = Replies(sock)
        for _ in range(3):
            sock.sendall(get("/ping", version="1.0", headers=[("Connection", "keep-alive")]))
            check_reply(replies.next(), 200, b"PONG", connection="keep-alive")
        sock.sendall(get("/ping", version="1.0"))  # the last one, without keep-alive
        check_reply(replies.next(), 200, b"PONG", connection="close")
        assert replies.closed()


def test_connection_close_ends_after_its_reply(server):
    with connect(server) as sock:
        replies = Replies(sock)
        # What follows the closing request is never answered.
        sock.sendall(get("/ping") + get("/ping", headers=[("Connection", "close")]) + get("/ping"))
        check_reply(replies.next(), 200, b"PONG")
        check_reply(replies.next(), 200, b"PONG", connection="close")
        assert replies.closed()


def test_pipelined_replies_come_in_request_order(server):
    stream, expected = b"", []
    for n in range(60):
        data, status, body, _ = [
            (post("/echo", b"req-%d" % n), 200, b"req-%d" % n, None),
            (get("/ping"), 200, b"PONG", None),
            (get("/sleep?ms=1"), 200, b"OK", None),
            (get("/nosuch-%d" % n), 404, None, None),
        ][n % 4]
        stream += data
        expected.append((status, body))
    with connect(server) as sock:
        got = exchange(sock, stream, len(expected))
    assert [(r.status, r.body if body is not None else None) for r, (_, body) in zip(got, expected)] == expected


def test_a_slow_request_keeps_its_place_in_the_pipeline(server):
    with connect(server) as sock:
        sent = time.monotonic()
        slow, fast = exchange(sock, get("/sleep?ms=300") + get("/ping"), 2)
        assert time.monotonic() - sent >= 0.3
    check_reply(slow, 200, b"OK")
    check_reply(fast, 200, b"PONG")


def test_deep_pipeline(server):
    count = 3000
    stream = b"".join(post("/echo", b"r%d" % n) for n in range(count))
    with connect(server, timeout=30) as sock:
        # Write from a thread while reading here: neither side's buffers can deadlock.
        writer = threading.Thread(target=sock.sendall, args=(stream,))
        writer.start()
        replies = Replies(sock)
        bodies = [replies.next().body for _ in range(count)]
        writer.join()
    assert bodies == [b"r%d" % n for n in range(count)]


def send_in_pieces(sock, data, size=1):
    for at in range(0, len(data), size):
        sock.send(data[at : at + size])


def test_requests_split_into_single_bytes(server):
    stream = post("/echo", b"split\r\nbody") + get("/ping") + post("/echo", None, chunks=[b"ab", b"c\r\n"])
    with connect(server) as sock:
        send_in_pieces(sock, stream)
        replies = Replies(sock)
        assert [replies.next().body for _ in range(3)] == [b"split\r\nbody", b"PONG", b"abc\r\n"]


@pytest.mark.parametrize("size", [1, 64 * 1024, 1024 * 1024])
def test_content_length_bodies(server, size):
    payload = os.urandom(size)
    with connect(server, timeout=30) as sock:
        data = post("/echo", payload)
        head = data.index(b"\r\n\r\n") + 4
        sock.sendall(data[:head])  # the head first, then the body in pieces
        send_in_pieces(sock, data[head:], max(1, size // 7))
        check_reply(Replies(sock).next(), 200, payload)


@pytest.mark.parametrize("chunks", [[b"hello", b" ", b"world"], [os.urandom(4096) for _ in range(40)], [b"x" * 1000] * 1048])
def test_chunked_bodies(server, chunks):
    with connect(server, timeout=30) as sock:
        data = post("/echo", None, chunks=chunks)
        send_in_pieces(sock, data, 997)  # cuts through sizes, data and line ends
        check_reply(Replies(sock).next(), 200, b"".join(chunks))


def test_chunk_extensions_and_trailers(server):
    data = (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;name=value\r\nhello\r\nA\r\n, trailers\r\n0\r\nX-Trailer: yes\r\n\r\n")  # fmt: skip
    with connect(server) as sock:
        check_reply(exchange(sock, data + get("/ping"), 2)[0], 200, b"hello, trailers")


def test_expect_100_continue_comes_in_its_turn(server):
    """A client waiting with Expect: 100-continue gets 100 Continue once its head is in,
    after the reply to the request before it; then its body is answered."""
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
    with connect(server) as sock:
        sock.sendall(get("/sleep?ms=50") + head)
        replies = Replies(sock)
        check_reply(replies.next(), 200, b"OK")
        assert replies.next(bodiless=True).head == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        check_reply(replies.next(), 200, b"hello")


def test_concurrent_connections_never_cross(server):
    connections = [connect(server) for _ in range(40)]
    try:
        for round_ in range(3):
            payloads = [b"conn-%03d-round-%d" % (i, round_) for i in range(len(connections))]
            for sock, payload in zip(connections, payloads):
                sock.sendall(post("/echo", payload))
            for sock, payload in zip(connections, payloads):
                check_reply(Replies(sock).next(), 200, payload)
    finally:
        for sock in connections:
            sock.close()


def delta(after, before, name, **labels):
    return total(after, name, **labels) - total(before, name, **labels)


def test_metrics_count_each_command(server):
    assert [s.labels["protocol"] for s in scrape(server)["connlab_server_info"]] == ["http"]
    before = scrape(server)
    load = {
        "PING": [get("/ping")] * 16,
        "ECHO": [post("/echo", b"x")] * 5,
        "SLEEP": [get("/sleep?ms=1")] * 2,
        "WORK": [get("/work?us=10")] * 3,
        "INFO": [get("/info")],
        "unknown": [get("/nosuch"), post("/ping", b""), get("/echo")],
    }
    with connect(server) as sock:
        stream = b"".join(b"".join(requests) for requests in load.values())
        replies = exchange(sock, stream, sum(map(len, load.values())))
    assert [r.status for r in replies] == [200] * 27 + [404, 405, 405]
    with connect(server) as broken:
        broken.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        replies = Replies(broken)
        check_reply(replies.next(), 400, connection="close")
        assert replies.closed()
    wait_until(lambda: delta(scrape(server), before, "connlab_connections_active") == 0, 10, "the connections to close")
    after = scrape(server)
    for command, requests in load.items():
        assert delta(after, before, "connlab_requests_total", command=command) == len(requests), command
        assert delta(after, before, "connlab_request_duration_seconds_count", command=command) == len(requests), command
    assert delta(after, before, "connlab_worker_requests_total") == 30
    assert delta(after, before, "connlab_connections_accepted_total") == 2
    assert delta(after, before, "connlab_protocol_errors_total") == 1


# Real clients


def base_url(server):
    return f"http://{server.host}:{server.port}"


def curl(*args):
    result = subprocess.run(["curl", "--silent", "--show-error", "--max-time", "20", *args],
                            capture_output=True, timeout=30)  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl(server):
    url = base_url(server)
    # Three URLs, one connection (curl reuses it: the server kept it open).
    out = curl("--write-out", r"|%{http_code}|%{num_connects}|\n", f"{url}/ping", f"{url}/sleep?ms=1", f"{url}/nosuch")
    assert re.fullmatch(rb"PONG\|200\|1\|\nOK\|200\|0\|\n[^|]*\|404\|0\|\n", out), out
    payload = os.urandom(100_000)
    result = subprocess.run(["curl", "-sS", "--data-binary", "@-", "-H", "Content-Type: application/octet-stream", f"{url}/echo"],
                            input=payload, capture_output=True, timeout=30)  # fmt: skip
    assert result.returncode == 0 and result.stdout == payload, result.stderr
    # From stdin with an unknown length, curl sends the body chunked.
    result = subprocess.run(["curl", "-sS", "-T", "-", "-X", "POST", f"{url}/echo"], input=payload, capture_output=True, timeout=30)
    assert result.returncode == 0 and result.stdout == payload, result.stderr
    head = curl("--http1.0", "--include", f"{url}/ping").decode()
    assert head.startswith("HTTP/1.1 200 OK\r\n") and "\r\nConnection: close\r\n" in head and head.endswith("\r\n\r\nPONG")
    assert curl("--write-out", "%{http_code}", "--output", "/dev/null", "--data", "x", f"{url}/ping") == b"405"
    # curl waits for 100 Continue (a second at most, then it sends the body anyway).
    waited = subprocess.run(["curl", "-sS", "-v", "-H", "Expect: 100-continue", "--data-binary", "waited", f"{url}/echo"],
                            capture_output=True, timeout=30)  # fmt: skip
    assert waited.stdout == b"waited" and b"< HTTP/1.1 100 Continue" in waited.stderr, waited.stderr[-600:]


def test_python_http_client(server):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request("GET", "/ping")
        first = conn.getresponse()
        assert (first.status, first.reason, first.read()) == (200, "OK", b"PONG")
        assert first.getheader("Content-Type") == "text/plain"
        sock = conn.sock
        conn.request("POST", "/echo", body=b"through http.client")
        assert conn.getresponse().read() == b"through http.client"
        conn.request("POST", "/echo", body=iter([b"chunk one, ", b"chunk two"]), encode_chunked=True)
        assert conn.getresponse().read() == b"chunk one, chunk two"
        conn.request("PUT", "/echo", body=b"")
        wrong = conn.getresponse()
        wrong.read()
        assert (wrong.status, wrong.getheader("Allow")) == (405, "POST")
        conn.request("GET", "/info")
        assert b"protocol:http\r\n" in conn.getresponse().read()
        assert conn.sock is sock, "one connection served every request"
    finally:
        conn.close()


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium for the whole module."""
    with headless_chromium() as browser:
        yield browser


def test_headless_chromium(server, chromium):
    context = chromium.new_context()
    try:
        page = context.new_page()
        response = page.goto(f"{base_url(server)}/ping")
        assert response.status == 200 and response.headers["content-type"] == "text/plain"
        assert page.inner_text("body") == "PONG"
        # fetch() from the page: a POST with the browser's own headers, on its kept connection.
        echoed = page.evaluate("fetch('/echo', {method: 'POST', body: 'from the browser'}).then(r => r.text())")
        assert echoed == "from the browser"
        assert page.evaluate("fetch('/nosuch').then(r => r.status)") == 404
    finally:
        context.close()


def wrk_image():
    """The load generator's image if it carries wrk (branch http-bench puts it there)."""
    found = subprocess.run(["docker", "run", "--rm", "--entrypoint", "sh", LOADGEN_IMAGE, "-c", "command -v wrk"],
                           capture_output=True, timeout=60)  # fmt: skip
    return LOADGEN_IMAGE if found.returncode == 0 else None


@pytest.fixture(scope="module")
def wrk():
    image = wrk_image()
    if image is None:
        pytest.skip(f"{LOADGEN_IMAGE} has no wrk (scripts/images.sh loadgen builds it with wrk)")
    return image


def test_wrk_runs_clean(server, wrk, docker_client):
    address = server.container.get_wrapped_container()
    address.reload()
    ip = address.attrs["NetworkSettings"]["IPAddress"]  # the default bridge: no port proxy between
    result = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "wrk", wrk, "-t1", "-c16", "-d1s", "--timeout", "5s", f"http://{ip}:7000/ping"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Requests/sec" in result.stdout, result.stdout
    assert "Socket errors" not in result.stdout, result.stdout
    assert "Non-2xx" not in result.stdout, result.stdout
