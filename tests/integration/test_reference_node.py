"""references/node, every variant with WORKERS=2 (`node` is one process whatever WORKERS
says): the HTTP routes answer as the lab's HTTP spec says, on one keep-alive connection,
and the per-process counts the primary gathers at /metrics add up to what was sent, by
worker and by command."""

import http.client

import pytest
from conftest import LOOPBACK, host_port, published, wait_until
from connlab_compare import targets
from connlab_loadgen.exposition import fetch, samples, total
from testcontainers.core.container import DockerContainer

pytestmark = pytest.mark.integration
VARIANTS = [name for name in targets.references() if name.split("/")[0] == "node"]
WORKERS = 2


@pytest.fixture(scope="module", params=VARIANTS)
def reference(request, docker_client):
    target = targets.get(request.param)
    image, env = target.run_spec("3.13", {"WORKERS": str(WORKERS)})
    if not docker_client.images.list(name=image):
        pytest.fail(f"image {image} is missing; `make test` builds it (or scripts/images.sh node)", pytrace=False)
    container = published(DockerContainer(image), target.port, target.metrics_port)
    for key, value in env.items():
        container.with_env(key, value)
    with container:
        wrapped = container.get_wrapped_container()
        wait_until(lambda: wrapped.exec_run(list(target.ready)).exit_code == 0, 30, f"{target.name} to be ready")
        yield target, LOOPBACK, host_port(container, target.port), \
            f"http://{LOOPBACK}:{host_port(container, target.metrics_port)}/metrics"


def ask(connection, method, path, body=None):
    connection.request(method, path, body=body)
    response = connection.getresponse()
    return response.status, response.read(), response


def test_routes_answer_on_one_kept_alive_connection(reference):
    _, host, port, _ = reference
    connection = http.client.HTTPConnection(host, port, timeout=10)
    assert ask(connection, "GET", "/ping")[:2] == (200, b"PONG")
    sock = connection.sock
    assert ask(connection, "POST", "/echo", b"hello \x00 world" * 100)[:2] == (200, b"hello \x00 world" * 100)
    assert ask(connection, "GET", "/sleep?ms=20")[:2] == (200, b"OK")
    assert ask(connection, "GET", "/work?us=2000")[:2] == (200, b"OK")
    status, body, response = ask(connection, "GET", "/info")
    assert status == 200 and b"protocol:http\r\n" in body and response.getheader("Content-Type") == "text/plain"
    assert connection.sock is sock, "HTTP/1.1 keeps the connection open"
    assert ask(connection, "GET", "/nowhere")[0] == 404
    status, _, response = ask(connection, "DELETE", "/ping")
    assert (status, response.getheader("Allow")) == (405, "GET")
    status, body, response = ask(connection, "GET", "/sleep?ms=abc")
    assert (status, body) == (400, b"/sleep needs ?ms=<number>\n") and response.getheader("Connection") == "close"
    connection.close()


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
