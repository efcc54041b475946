"""`make worker MASTER=`: Locust workers on this machine join a master on another.

The other machine is of the test's own making: a master and a server in their own
network namespaces, published on the address this machine has on Docker's default
bridge, so the workers reach them as they would reach another host, by its address and
a published port, never through a shared network. The workers run as their own compose
project, so a stack the user keeps up is neither disturbed nor in the way.
"""

import os
import socket
import subprocess

import pytest

from compose_util import ROOT
from conftest import SERVER_IMAGE, wait_until
from loadgen_lab import LOADGEN_IMAGE, answers_ping, get_json, post_form

pytestmark = pytest.mark.integration
PROJECT = "connlab-make-worker-test"
STACK = {"COMPOSE_PROJECT_NAME": PROJECT, "BIND_ADDRESS": "127.0.0.2"}


def make(*args):
    return subprocess.run(["make", *args], cwd=ROOT, env={**os.environ, **STACK}, capture_output=True, text=True,
                          timeout=300)  # fmt: skip


def published(container, port):
    container.reload()
    return int(container.ports[f"{port}/tcp"][0]["HostPort"])


@pytest.fixture
def network(docker_client):
    """The other host's network: this machine has an address on it, its gateway."""
    network = docker_client.networks.create(f"{PROJECT}-other-host")
    try:
        yield network
    finally:
        network.remove()


@pytest.fixture
def address(network):
    """This machine's address on the other host's network, which every container reaches."""
    network.reload()
    return network.attrs["IPAM"]["Config"][0]["Gateway"]


@pytest.fixture
def other_host(docker_client, network, address):
    """(master's port, web UI, server's port): a master and a server in their own network
    namespaces, published on `address`."""
    started = []
    try:
        server = docker_client.containers.run(SERVER_IMAGE, detach=True, network=network.name,
                                              environment={"ARCH": "single-thread"},
                                              ports={"7000/tcp": (address,)})  # fmt: skip
        started.append(server)
        master = docker_client.containers.run(LOADGEN_IMAGE, ["--master", "--master-bind-port", "5557"], detach=True,
                                              network=network.name, environment={"LOADGEN_ROLE": "master"},
                                              ports={"5557/tcp": (address,), "8089/tcp": ("127.0.0.1",)})  # fmt: skip
        started.append(master)
        server_port = published(server, 7000)
        wait_until(lambda: answers_ping(address, server_port, "resp"), 30, "the other host's server to answer PING")
        yield published(master, 5557), f"http://127.0.0.1:{published(master, 8089)}", server_port
    finally:
        for container in started:
            container.remove(force=True)


def test_workers_join_a_master_on_another_host_and_make_down_removes_them(docker_client, address, other_host):
    master_port, ui, server_port = other_host
    try:
        joined = make("worker", f"MASTER={address}:{master_port}", "LOADGEN_WORKERS=2")
        assert joined.returncode == 0, joined.stdout + joined.stderr
        assert "2 Locust worker(s)" in joined.stdout and f"{address}:{master_port}" in joined.stdout
        wait_until(lambda: len(get_json(f"{ui}/stats/requests")["workers"]) == 2, 60, "both workers to join")

        started = post_form(f"{ui}/swarm", {"user_count": 2, "spawn_rate": 2, "host": f"tcp://{address}:{server_port}"})
        assert started["success"], started
        try:
            stats = wait_until(lambda: (s := get_json(f"{ui}/stats/requests"))["total_rps"] > 0 and s, 60,
                               "the workers' requests to reach the master's statistics")  # fmt: skip
            assert stats["fail_ratio"] == 0 and [w["user_count"] for w in stats["workers"]] == [1, 1], stats
        finally:
            post_form(f"{ui}/stop", {})
    finally:
        down = make("down")
    assert down.returncode == 0, down.stdout + down.stderr
    left = docker_client.containers.list(all=True, filters={"label": f"com.docker.compose.project={PROJECT}"})
    assert left == [], [c.name for c in left]


def test_a_master_nobody_answers_at_is_refused_with_what_to_do(address):
    with socket.socket() as probe:  # a port of this machine's address that nothing listens on
        probe.bind((address, 0))
        closed = probe.getsockname()[1]
    try:
        refused = make("worker", f"MASTER={address}:{closed}")
    finally:
        make("down")  # the project's network, made for the question
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"no Locust master answers at {address}:{closed}" in refused.stderr
    assert "LOADGEN_MASTER_BIND=0.0.0.0 make up" in refused.stderr
