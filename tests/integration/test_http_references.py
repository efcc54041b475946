"""The HTTP reference servers (references/*/ with "http" in their protocols), for real:
each answers every route its record does not list in `cannot`, as connlab's HTTP
protocol does, and wrk (in the load generator image) drives it without errors, with
keep-alive and with Connection: close."""

import http.client

import pytest
from testcontainers.core.container import DockerContainer

from conftest import LOOPBACK, host_port, published, wait_until
from connlab_compare import targets
from connlab_compare.clients import Wrk

pytestmark = pytest.mark.integration
HTTP = [name for name, target in targets.references().items() if "http" in target.protocols]
# Each command's request and what its reply's body must be (None: any body).
ROUTES = {"PING": ("GET", "/ping", None, b"PONG"), "ECHO": ("POST", "/echo", b"hello connlab", b"hello connlab"),
          "SLEEP": ("GET", "/sleep?ms=1", None, b"OK"), "WORK": ("GET", "/work?us=10", None, b"OK"),
          "INFO": ("GET", "/info", None, None)}  # fmt: skip


@pytest.fixture(scope="module", params=HTTP)
def reference(request, docker_client):
    target = targets.references()[request.param]
    with published(DockerContainer(targets.image(target.image)), target.port) as container:
        wrapped = container.get_wrapped_container()
        wait_until(lambda: wrapped.exec_run(list(target.ready)).exit_code == 0, 30, f"{target.name} to serve")
        yield target, container, host_port(container, target.port)


def exchange(port, method, path, body=None):
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
    try:
        connection.request(method, path, body)
        reply = connection.getresponse()
        return reply.status, reply.getheader("Content-Type"), reply.read()
    finally:
        connection.close()


def test_it_answers_the_routes_its_record_says_it_serves(reference):
    target, _, port = reference
    served = [command for command in ROUTES if command not in target.cannot]
    assert "PING" in served, f"{target.name}: a reference that cannot answer PING cannot be measured"
    for command in served:
        method, path, body, expected = ROUTES[command]
        status, content_type, got = exchange(port, method, path, body)
        assert (status, content_type) == (200, "text/plain"), f"{target.name}: {method} {path}"
        assert got == expected if expected is not None else got, f"{target.name}: {method} {path} -> {got!r}"
    assert exchange(port, "GET", "/no-such-route")[0] == 404


@pytest.mark.parametrize("keepalive", [True, False], ids=["keep-alive", "close"])
def test_wrk_drives_it_without_errors(reference, docker_client, keepalive):
    target, container, _ = reference
    argv = Wrk.command("127.0.0.1", target.port, ["PING"], clients=4, seconds=1, keepalive=keepalive)
    output = docker_client.containers.run(targets.image(Wrk.image), argv[1:], entrypoint=argv[0], remove=True,
                                          network_mode=f"container:{container.get_wrapped_container().id}")  # fmt: skip
    figures = Wrk.parse(output.decode())
    assert figures["requests"] > 0 and figures["errors"] == 0, output.decode()
