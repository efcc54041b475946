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
