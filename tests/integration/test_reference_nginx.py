"""references/nginx for real, each variant with two workers (WORKERS=2): the HTTP routes
its record serves answer as connlab's do, /sleep waits on a timer and /work burns the
worker's CPU, and the per-worker counts at its metrics port add up to what was sent.
One worker (WORKERS=1, the default: GET /ping with no Lua) counts /ping from stub_status."""

import concurrent.futures
import contextlib
import http.client
import time

import pytest
from testcontainers.core.container import DockerContainer

from conftest import LOOPBACK, host_port, published, wait_until
from connlab_compare import measure, targets
from connlab_loadgen.exposition import fetch, samples, total

pytestmark = pytest.mark.integration
VARIANTS = [name for name in targets.references() if name == "nginx" or name.startswith("nginx/")]


class Nginx:
    def __init__(self, target, container):
        self.target, self.container = target, container
        self.port = host_port(container, target.port)
        self.metrics_url = f"http://{LOOPBACK}:{host_port(container, target.metrics_port)}/metrics"

    def connect(self):
        return http.client.HTTPConnection(LOOPBACK, self.port, timeout=10)

    def exchange(self, method, path, body=None, connection=None):
        own = connection is None
        connection = connection or self.connect()
        try:
            connection.request(method, path, body)
            reply = connection.getresponse()
            return reply.status, dict(reply.getheaders()), reply.read()
        finally:
            if own:
                connection.close()

    def scrape(self, text=None):
        return samples(text or fetch(self.metrics_url))


@contextlib.contextmanager
def running(name, **settings):
    """The reference `name` with the lab's `settings`, as make compare starts it, once it serves."""
    target = targets.references()[name]
    image, env = target.run_spec(None, settings)
    container = published(DockerContainer(image), target.port, target.metrics_port)
    for key, value in env.items():
        container.with_env(key, str(value))
    with container:
        wrapped = container.get_wrapped_container()
        wait_until(lambda: wrapped.exec_run(list(target.ready)).exit_code == 0, 30, f"{name} to serve")
        yield Nginx(target, container)


@pytest.fixture(scope="module", params=VARIANTS)
def nginx(request, docker_client):
    with running(request.param, WORKERS=2) as nginx:
        yield nginx


def test_its_record(nginx):
    assert nginx.target.protocols == ("http",) and nginx.target.per_worker and "WORKERS" in nginx.target.settings
    info = nginx.scrape()["connlab_server_info"][0].labels
    expected = {"nginx": "1.26.3", "workers": "2", "ping_count": "lua", **{k.lower(): v for k, v in nginx.target.env.items()}}
    assert {key: info[key] for key in expected} == expected


def test_the_routes_answer_as_the_spec_says(nginx):
    cases = [  # request, status, body, a header it must carry
        (("GET", "/ping"), 200, b"PONG", None),
        (("POST", "/echo", b"hello\r\nconnlab\0"), 200, b"hello\r\nconnlab\0", None),
        (("POST", "/echo", b""), 200, b"", None),
        (("GET", "/sleep?ms=5"), 200, b"OK", None),
        (("GET", "/work?us=100"), 200, b"OK", None),
        (("GET", "/work?us=abc"), 400, b"ERR microseconds is not an integer: 'abc'", None),
        (("GET", "/sleep?ms=-1"), 400, b"ERR milliseconds must not be negative", None),
        (("GET", "/sleep"), 400, b"/sleep needs ?ms=<number>\n", None),
        (("GET", "/echo"), 405, b"/echo takes POST\n", ("Allow", "POST")),
        (("POST", "/ping", b"x"), 405, b"/ping takes GET\n", ("Allow", "GET")),
        (("POST", "/work?us=1", b"x"), 405, b"/work takes GET\n", ("Allow", "GET")),
        (("GET", "/no-such-route"), 404, None, None),
    ]
    connection = nginx.connect()  # one keep-alive connection for all of them
    for request, status, body, header in cases:
        got_status, headers, got_body = nginx.exchange(*request, connection=connection)
        assert got_status == status and headers["Content-Type"] == "text/plain", request
        assert int(headers["Content-Length"]) == len(got_body), request
        assert body is None or got_body == body, (request, got_body)
        assert header is None or headers.get(header[0]) == header[1], (request, headers)
    connection.close()
    big = bytes(range(256)) * 4096  # 1 MiB, MAX_BODY
    assert nginx.exchange("POST", "/echo", big)[2] == big
    assert nginx.exchange("POST", "/echo", big + b"x")[0] == 413


def test_sleep_waits_on_a_timer_without_holding_its_worker(nginx):
    sleepers, ms = 12, 400  # blocking, two workers would take sleepers / 2 * ms
    with concurrent.futures.ThreadPoolExecutor(sleepers) as pool:
        started = time.monotonic()
        replies = list(pool.map(lambda _: nginx.exchange("GET", f"/sleep?ms={ms}")[2], range(sleepers)))
        elapsed = time.monotonic() - started
    assert replies == [b"OK"] * sleepers
    assert ms / 1000 <= elapsed < sleepers / 2 * ms / 1000 / 2, f"{sleepers} sleeps of {ms} ms took {elapsed:.2f} s"


def cpu_seconds(container):
    """{pid: CPU seconds} of the container's nginx processes (utime + stime, in ticks of 10 ms)."""
    stats = container.get_wrapped_container().exec_run(["sh", "-c", "cat /proc/[0-9]*/stat"]).output.decode()
    return {line.split()[0]: sum(map(int, line.split(") ")[1].split()[11:13])) / 100
            for line in stats.splitlines() if "(nginx)" in line}  # fmt: skip


def test_work_burns_the_cpu_of_the_worker_that_serves_it(nginx):
    before = cpu_seconds(nginx.container)
    started = time.monotonic()
    assert nginx.exchange("GET", "/work?us=300000")[2] == b"OK"
    assert time.monotonic() - started >= 0.3
    after = cpu_seconds(nginx.container)
    burned = max(after[pid] - before.get(pid, 0) for pid in after)
    assert burned >= 0.28, f"no nginx process used the 0.3 s of CPU: {before} -> {after}"


def test_per_worker_counts_add_up(nginx):
    before_text = fetch(nginx.metrics_url)
    before = nginx.scrape(before_text)
    assert {s.labels["worker"] for s in before["connlab_workers"]} == {"0", "1"}
    assert all(s.labels["role"] == "reader,executor" for s in before["connlab_workers"])
    connections, pings = 16, 20
    opened = [nginx.connect() for _ in range(connections)]
    for connection in opened:
        for _ in range(pings):
            assert nginx.exchange("GET", "/ping", connection=connection)[2] == b"PONG"
        assert nginx.exchange("POST", "/echo", b"x", connection=connection)[2] == b"x"
        assert nginx.exchange("GET", "/sleep?ms=0", connection=connection)[2] == b"OK"
        assert nginx.exchange("GET", "/work?us=10", connection=connection)[2] == b"OK"
    # A request is counted before the worker reads its next event, and a scrape asks
    # every worker for its counts: they are complete.
    during_text = fetch(nginx.metrics_url)
    during = nginx.scrape(during_text)
    sent = {"PING": connections * pings, "ECHO": connections, "SLEEP": connections, "WORK": connections}
    for command, count in sent.items():
        assert total(during, "connlab_requests_total", command=command) - total(before, "connlab_requests_total", command=command) == count
    served = total(during, "connlab_worker_requests_total") - total(before, "connlab_worker_requests_total")
    assert served == sum(sent.values())
    assert total(during, "connlab_connections_active") == connections
    per_worker = {s.labels["worker"]: s.value for s in during["connlab_connections_active"]}
    assert set(per_worker) == {"0", "1"}
    spread = measure.spread(before_text, during_text)  # as make compare's spread scenario reads them
    assert sum(spread["per_worker_requests"].values()) == served
    assert sum(spread["per_worker_connections"].values()) == connections
    for connection in opened:
        connection.close()
    wait_until(lambda: total(nginx.scrape(), "connlab_connections_active") == 0, 10, "the closed connections to leave the counts")


def test_reuseport_spreads_connections_over_both_workers(docker_client):
    with running("nginx/reuseport", WORKERS=2) as nginx:
        # The kernel hashes each connection's addresses and ports to a socket: 40 of them
        # all on one of two workers would be a 1 in 2**39 chance.
        opened = [nginx.connect() for _ in range(40)]
        for connection in opened:
            nginx.exchange("GET", "/ping", connection=connection)
        counts = {s.labels["worker"]: s.value for s in nginx.scrape()["connlab_connections_active"]}
        for connection in opened:
            connection.close()
    assert sum(counts.values()) == 40 and min(counts.values()) > 0, counts


def test_one_worker_answers_ping_without_lua_and_still_counts_it(docker_client):
    with running("nginx") as nginx:  # WORKERS unset: 1
        before = nginx.scrape()
        assert before["connlab_server_info"][0].labels["ping_count"] == "stub_status"
        assert [s.labels["worker"] for s in before["connlab_workers"]] == ["0"]
        connection = nginx.connect()
        for _ in range(30):
            nginx.exchange("GET", "/ping", connection=connection)
        nginx.exchange("POST", "/echo", b"x", connection=connection)
        nginx.exchange("GET", "/nowhere", connection=connection)
        after = nginx.scrape()
        connection.close()
    delta = lambda metric, **labels: total(after, metric, **labels) - total(before, metric, **labels)  # noqa: E731
    assert (delta("connlab_requests_total", command="PING"), delta("connlab_requests_total", command="ECHO"),
            delta("connlab_requests_total", command="unknown")) == (30, 1, 1)  # fmt: skip
    assert delta("connlab_worker_requests_total") == 32
    assert total(after, "connlab_connections_active") == 1


def test_a_setting_it_does_not_know_is_refused_with_a_message(docker_client):
    image, _ = targets.references()["nginx"].run_spec(None)
    container = docker_client.containers.run(image, environment={"LISTEN": "sideways"}, detach=True)
    try:
        assert container.wait(timeout=30)["StatusCode"] == 2
        assert "LISTEN=sideways: give shared or reuseport" in container.logs().decode()
    finally:
        container.remove(force=True)
