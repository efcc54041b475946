"""The checks every Python reference server passes (references/python-app served by
uvicorn, gunicorn and granian; test_reference_<name>.py run them on each variant): the
routes answer as connlab's HTTP protocol does, and the per-worker counts at /metrics
add up to the requests sent and the connections open, read as the spread scenario
reads them."""

import concurrent.futures

from conftest import wait_until
from connlab_compare import measure
from connlab_loadgen.exposition import samples, total
from reference_lab import connect, metrics, request

ROUTES = [  # (method, path, body, status, reply body)
    ("GET", "/ping", None, 200, b"PONG"),
    ("POST", "/echo", b"hello connlab", 200, b"hello connlab"),
    ("GET", "/sleep?ms=5", None, 200, b"OK"),
    ("GET", "/work?us=100", None, 200, b"OK"),
    ("GET", "/no-such-route", None, 404, None),
    ("GET", "/sleep?ms=abc", None, 400, b"ms must be a non-negative integer, got abc"),
    ("GET", "/work", None, 400, b"us must be a non-negative integer, got none"),
]


def routes_answer(port):
    connection = connect(port)  # every request on one kept-alive connection
    try:
        for method, path, body, status, expected in ROUTES:
            got_status, headers, got = request(connection, method, path, body)
            assert got_status == status, f"{method} {path}: {got_status} {got!r}"
            assert {k.lower(): v for k, v in headers.items()}["content-type"] == "text/plain", f"{method} {path}"
            assert expected is None or got == expected, f"{method} {path}: {got!r}"
        status, headers, _ = request(connection, "POST", "/ping")
        assert status == 405 and {k.lower(): v for k, v in headers.items()}["allow"] == "GET"
        status, _, info = request(connection, "GET", "/info")
        assert status == 200 and b"protocol:http\r\n" in info
    finally:
        connection.close()


def workers(metrics_port, listed):
    """{role: [worker]} of a reference's /metrics once `listed` ({role: how many}) are
    (a worker process lists itself as it starts, maybe after the first answered)."""
    def found():
        roles = {}
        for sample in samples(metrics(metrics_port)).get("connlab_workers", []):
            roles.setdefault(sample.labels["role"], []).append(sample.labels["worker"])
        return roles

    wait_until(lambda: {role: len(names) for role, names in found().items()} == listed, 15, f"workers {listed} listed (got {found()})")
    return found()


def requests_add_up(ports, target, users=8, each=25):
    """`users` connections send `each` requests at once: the requests counted per
    worker add up to them, and spread reads them per worker as it reads a design's."""
    port, metrics_port = ports[target.port], ports[target.metrics_port]
    before = metrics(metrics_port)

    def user(_):
        connection = connect(port)
        try:
            return sum(request(connection, "GET", "/work?us=200")[0] == 200 for _ in range(each))
        finally:
            connection.close()

    with concurrent.futures.ThreadPoolExecutor(users) as pool:
        assert sum(pool.map(user, range(users))) == users * each
    after = metrics(metrics_port)
    counted = total(samples(after), "connlab_worker_requests_total") - total(samples(before), "connlab_worker_requests_total")
    assert counted == users * each
    figures = measure.spread(before, after)
    if figures.get("per_worker_requests") is not None:  # two workers or more: spread read them all
        assert sum(figures["per_worker_requests"].values()) == users * each, figures
    return figures, after


def connections_add_up(ports, target, count=6):
    """`count` kept-alive connections, each having asked once, are counted open."""
    port, metrics_port = ports[target.port], ports[target.metrics_port]
    open_ = lambda: total(samples(metrics(metrics_port)), "connlab_connections_active")  # noqa: E731
    wait_until(lambda: open_() == 0, 10, "the ready probe's connection counted closed")
    connections = [connect(port) for _ in range(count)]
    try:
        for connection in connections:
            assert request(connection, "GET", "/ping")[0] == 200
        wait_until(lambda: open_() == count, 10, f"{count} connections counted open (counted {open_()})")
    finally:
        for connection in connections:
            connection.close()
    wait_until(lambda: open_() == 0, 10, "the connections counted closed")
