"""Containers for the load generator's integration tests: a server and Locust processes
on one private Docker network, removed whatever happens (conftest cleans up the rest)."""

import contextlib
import json
import os
import socket
import urllib.parse
import urllib.request

from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network

from conftest import SERVER_CPUS, SERVER_IMAGE, TAG, wait_until
from connlab_loadgen import exposition, protocols

LOADGEN_IMAGE = f"connlab/loadgen:{TAG}"
LOADGEN_CPUS = os.environ.get("LOADGEN_CPUS") or str(min(os.sched_getaffinity(0)))


def loadgen(network, *args, **env):
    container = (
        DockerContainer(LOADGEN_IMAGE)
        .with_network(network)
        .with_command(list(args))
        .with_exposed_ports(9646)
        .with_kwargs(cpuset_cpus=LOADGEN_CPUS)
    )
    for key, value in env.items():
        container.with_env(key, str(value))
    return container


def url(container, port, path=""):
    return f"http://{container.get_container_host_ip()}:{container.get_exposed_port(port)}{path}"


def get_json(address):
    with urllib.request.urlopen(address, timeout=5) as response:
        return json.load(response)


def post_form(address, form):
    data = urllib.parse.urlencode(form).encode()
    with urllib.request.urlopen(urllib.request.Request(address, data=data), timeout=5) as response:
        return json.load(response)


def metric(container, name, **labels):
    """Sum of the samples of `name` whose labels include `labels`, from /metrics."""
    text = exposition.fetch(url(container, 9646, "/metrics"), timeout=5)
    return exposition.total(exposition.samples(text), name, **labels)


def answers_ping(host, port, protocol):
    """One PING in `protocol` is answered PONG."""
    codec = protocols.codec(protocol)
    with socket.create_connection((host, port), timeout=2) as sock:
        sock.sendall(codec.encode("PING"))
        decoder, replies = codec.Decoder(), []
        while not replies and (data := sock.recv(65536)):
            replies = decoder.decode(data)
    return replies == [b"PONG"]


@contextlib.contextmanager
def server_on(network, arch="single-thread", protocol="resp"):
    server = (
        DockerContainer(SERVER_IMAGE)
        .with_env("ARCH", arch)
        .with_env("PROTOCOL", protocol)
        .with_network(network)
        .with_network_aliases(arch)
        .with_exposed_ports(7000)
        .with_kwargs(cpuset_cpus=SERVER_CPUS)
    )
    with server:
        host, port = server.get_container_host_ip(), int(server.get_exposed_port(7000))
        wait_until(lambda: answers_ping(host, port, protocol), 30, f"{arch} to answer PING in {protocol}")
        yield server


@contextlib.contextmanager
def network():
    with Network() as net:
        yield net
