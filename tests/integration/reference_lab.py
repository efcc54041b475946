"""What the reference servers' integration tests share (test_reference_<name>.py): a
reference, or one of its variants, started as make compare starts it (its record's
image, env and the lab's settings it takes), and the reading of its per-worker counts
the spread scenario makes (measure.spread)."""

import contextlib
import http.client
import urllib.request

from testcontainers.core.container import DockerContainer

from conftest import LOOPBACK, host_port, published, wait_until
from connlab_compare import targets


@contextlib.contextmanager
def run_reference(name, **settings):
    """The reference `name` running with `settings` (those its record takes); yields
    (target, {container port: loopback port}) once its `ready` command passes."""
    target = targets.references()[name]
    image, env = target.run_spec(None, {key: str(value) for key, value in settings.items()})
    ports = [target.port] + ([target.metrics_port] if target.metrics_port else [])
    container = published(DockerContainer(image), *ports)
    for key, value in env.items():
        container.with_env(key, value)
    with container:
        wrapped = container.get_wrapped_container()
        wait_until(lambda: wrapped.exec_run(list(target.ready)).exit_code == 0, 30, f"{name} to serve")
        yield target, {port: host_port(container, port) for port in ports}


def metrics(port):
    """A reference's /metrics text (its per-worker counts)."""
    with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/metrics", timeout=5) as reply:
        return reply.read().decode()


def request(connection, method, path, body=None):
    """(status, headers, body) of one request on a kept-alive http.client connection."""
    connection.request(method, path, body)
    reply = connection.getresponse()
    return reply.status, dict(reply.getheaders()), reply.read()


def connect(port):
    return http.client.HTTPConnection(LOOPBACK, port, timeout=10)


def variants_of(system):
    """The reference `system` and each of its variants (`nginx`, `nginx/reuseport`, ...)."""
    return [name for name in targets.references() if name.split("/")[0] == system]


@contextlib.contextmanager
def served(name, workers):
    """(target, host, its port, its /metrics URL) of the reference `name` running with
    WORKERS=`workers`, as the per-variant fixtures yield it."""
    with run_reference(name, WORKERS=workers) as (target, ports):
        yield target, LOOPBACK, ports[target.port], f"http://{LOOPBACK}:{ports[target.metrics_port]}/metrics"


def ask(connection, method, path, body=None):
    """(status, body, response) of one request on a kept-alive http.client connection."""
    connection.request(method, path, body=body)
    response = connection.getresponse()
    return response.status, response.read(), response


def routes_on_one_connection(host, port):
    """Every route answers as connlab's HTTP does, on one kept-alive connection, down to
    the 400 that closes it."""
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
