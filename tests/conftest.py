"""Shared test fixtures: real containers through testcontainers, cleaned up by us.

The reaper container (Ryuk) cannot be pulled without a registry, so `make test` runs
with TESTCONTAINERS_RYUK_DISABLED=true and every container this session started is
removed at the end, whatever happened.
"""

import contextlib
import os
import socket
import time
import urllib.request
from dataclasses import dataclass

# Tests talk to containers through loopback only. Inside a container testcontainers
# would otherwise pick the Docker bridge's gateway address; these must be set before
# testcontainers is imported (it reads them once).
os.environ.setdefault("TC_HOST", "127.0.0.1")
os.environ.setdefault("TESTCONTAINERS_CONNECTION_MODE", "docker_host")
# Importing locust monkey-patches the whole interpreter with gevent (its normal mode, in
# its own process). Here it would patch pytest's process after docker/ssl are imported;
# the load generator's client uses gevent's sockets explicitly, so it needs no patching.
os.environ.setdefault("LOCUST_SKIP_MONKEY_PATCH", "1")

import docker  # noqa: E402
import pytest  # noqa: E402
from testcontainers.core.container import DockerContainer  # noqa: E402
from testcontainers.core.labels import LABEL_SESSION_ID, SESSION_ID  # noqa: E402

from connlab.config import server_image, variants  # noqa: E402
from connlab.protocols import PROTOCOLS  # noqa: E402

LOOPBACK = "127.0.0.1"
TAG = os.environ.get("CONNLAB_TAG", "latest")
SERVER_IMAGE = server_image("3.13", TAG)
# The CPUs `make test` pins servers to (SERVER_CPUS, as for `make up`).
SERVER_CPUS = os.environ.get("SERVER_CPUS") or str(max(os.sched_getaffinity(0)))

# Every architecture and mode, as (ARCH, settings): what the suites run against.
CONFIGS = variants()
# The server builds they run on (`make test`: 3.13 with the GIL, and 3.13t free-threaded).
PYTHONS = os.environ.get("CONNLAB_PYTHONS", "3.13").split()


# Every build and every architecture and mode, as pytest parameters (python, name).
BUILDS_AND_CONFIGS = [pytest.param((python, name), id=f"{python}-{name}") for python in PYTHONS for name in CONFIGS]


def published(container, *ports):
    """Publish `ports` on random loopback ports: tests talk to loopback only."""
    for port in ports:
        container.ports[f"{port}/tcp"] = (LOOPBACK, None)  # docker-py's (ip, any port)
    return container


def host_port(container, port):
    wrapped = container.get_wrapped_container()
    wrapped.reload()
    return int(wrapped.attrs["NetworkSettings"]["Ports"][f"{port}/tcp"][0]["HostPort"])


def wait_until(check, timeout, what):
    """Poll `check()` until it returns a true value; fail with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # the thing being waited for is not there yet
            last_error = exc
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what} (last error: {last_error!r})")


def ping(host, port):
    with socket.create_connection((host, port), timeout=2) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16) == b"+PONG\r\n"


def probe(host, port, protocol="resp"):
    """True if the server answers `protocol`'s health probe (RESP: PING; HTTP: GET /ping)."""
    request, expected = PROTOCOLS[protocol].PROBE
    with socket.create_connection((host, port), timeout=2) as sock:
        sock.sendall(request)
        answer = b""
        while len(answer) < len(expected) and (chunk := sock.recv(len(expected) - len(answer))):
            answer += chunk
        return answer == expected


@dataclass
class Server:
    container: DockerContainer
    host: str
    port: int
    metrics_port: int

    @property
    def metrics_url(self):
        return f"http://{self.host}:{self.metrics_port}/metrics"

    def connect(self, timeout=10):
        return socket.create_connection((self.host, self.port), timeout=timeout)


@contextlib.contextmanager
def run_server(arch, *, python="3.13", cpuset=SERVER_CPUS, docker=None, **env):
    """Start the server image of build `python` with ARCH=arch and `env`, pinned to
    `cpuset` (`docker`: more arguments for docker's create); yield a Server once it
    answers its protocol's probe (PROTOCOL in `env`; RESP's PING by default)."""
    container = published(DockerContainer(server_image(python)), 7000, 8000).with_env("ARCH", arch)
    for key, value in env.items():
        container.with_env(key, str(value))
    container.with_kwargs(cpuset_cpus=cpuset, **(docker or {}))
    with container:
        server = Server(container, LOOPBACK, host_port(container, 7000), host_port(container, 8000))
        protocol = str(env.get("PROTOCOL") or "resp")
        wait_until(lambda: probe(server.host, server.port, protocol), 30, f"{arch} to answer the {protocol} probe")
        # A multi-process master serves /metrics only after forking its workers.
        wait_until(lambda: urllib.request.urlopen(server.metrics_url, timeout=2).status == 200, 30, f"{arch} /metrics")
        yield server


@pytest.fixture(scope="session")
def docker_client():
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:
        pytest.fail(f"Docker is not reachable ({exc}); start the daemon, then `make test`", pytrace=False)
    for python in PYTHONS:
        if not client.images.list(name=server_image(python)):
            pytest.fail(f"image {server_image(python)} is missing; `make test` builds it "
                        f"(or run `make images PYTHON={python}`)", pytrace=False)
    yield client
    # Remove whatever this session started, even after a failure mid-test.
    for container in client.containers.list(all=True, filters={"label": f"{LABEL_SESSION_ID}={SESSION_ID}"}):
        container.remove(force=True)
    client.close()
