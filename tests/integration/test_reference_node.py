"""references/node, every variant with WORKERS=2 (`node` is one process whatever WORKERS
says): the HTTP routes answer as the lab's HTTP spec says, on one keep-alive connection,
and the per-process counts the primary gathers at /metrics add up to what was sent, by
worker and by command."""

import http.client

import pytest
from conftest import wait_until
from connlab_loadgen.exposition import fetch, samples, total
from reference_lab import ask, routes_on_one_connection, served, variants_of

pytestmark = pytest.mark.integration
VARIANTS = variants_of("node")
WORKERS = 2


@pytest.fixture(scope="module", params=VARIANTS)
def reference(request, docker_client):
    with served(request.param, WORKERS) as found:
        yield found


def test_routes_answer_on_one_kept_alive_connection(reference):
    _, host, port, _ = reference
    routes_on_one_connection(host, port)


def test_per_worker_counts_add_up(reference):
    target, host, port, metrics = reference
    workers = WORKERS if "WORKERS" in target.settings else 1
    before = samples(fetch(metrics))
    connections, per_connection = 12, 5
    for _ in range(connections):
        connection = http.client.HTTPConnection(host, port, timeout=10)
        for _ in range(per_connection):
            assert ask(connection, "GET", "/ping")[:2] == (200, b"PONG")
        connection.close()
    after = samples(fetch(metrics))
    assert {s.labels["worker"] for s in after["connlab_workers"]} == {str(n) for n in range(workers)}
    for name, sent in (("connlab_worker_requests_total", connections * per_connection),
                       ("connlab_connections_accepted_total", connections)):  # fmt: skip
        assert total(after, name) - total(before, name) == sent, name
    assert total(after, "connlab_requests_total", command="PING") - total(before, "connlab_requests_total", command="PING") \
        == connections * per_connection
    assert all(total(after, name) > 0 for name in ("connlab_resident_memory_bytes", "connlab_threads", "connlab_open_fds"))
    if target.env.get("CLUSTER") == "rr":  # the primary deals connections to every worker in turn
        accepted = {str(n): total(after, "connlab_connections_accepted_total", worker=str(n))
                    - total(before, "connlab_connections_accepted_total", worker=str(n)) for n in range(workers)}
        assert all(accepted.values()), f"round robin left a worker without connections: {accepted}"
    wait_until(lambda: total(samples(fetch(metrics)), "connlab_connections_active") == 0, 10, "the connections to close")
