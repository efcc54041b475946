"""Locked-down containers (issue 6): the composed config of every profile, and a real
server container started from the compose definition, seen through `docker inspect`."""

import json
import os
import uuid

import pytest

from compose_util import compose, composed_config
from conftest import TAG
from lockdown import is_root, problems

pytestmark = pytest.mark.integration

ARCH = "single-thread"  # the live check: one architecture is enough, they share one definition
BIND = "127.0.0.4"  # this checkout's loopback address for stacks it starts


@pytest.fixture(scope="module")
def config():
    return composed_config(BIND_ADDRESS=None, CONNLAB_TAG=TAG)


def test_every_service_of_every_profile_is_composed(config):
    assert {"single-thread", "hybrid", "prometheus", "node-exporter", "grafana"} <= set(config["services"])


@pytest.mark.parametrize("name", ["single-thread", "single-acceptor", "multi-acceptor", "message-balancing",
                                  "socket-sharding", "hybrid", "prometheus", "node-exporter", "grafana"])
def test_composed_service_is_locked_down(config, name):
    assert problems(config["services"][name]) == []


def test_bind_address_moves_every_published_port():
    config = composed_config(BIND_ADDRESS="127.0.0.9", CONNLAB_TAG=TAG)
    ports = [p for s in config["services"].values() for p in s.get("ports", [])]
    assert ports and {p["host_ip"] for p in ports} == {"127.0.0.9"}


# Run inside the container: what the process really gets, not what was asked for.
PROBE = """
import json, os
status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\\t" in line)
try:
    open("/probe", "w").close(); root_writable = True
except OSError:
    root_writable = False
tmp = "/tmp/probe"; open(tmp, "w").close(); os.remove(tmp)
print(json.dumps({"uid": os.getuid(), "root_writable": root_writable, "cap_eff": int(status["CapEff"], 16),
                  "cap_bnd": int(status["CapBnd"], 16), "no_new_privs": int(status["NoNewPrivs"])}))
"""


@pytest.fixture(scope="module")
def live_server(docker_client):
    project = f"{os.environ.get('COMPOSE_PROJECT_NAME', 'connlab')}-lockdown-{uuid.uuid4().hex[:6]}"
    env = {"COMPOSE_PROJECT_NAME": project, "BIND_ADDRESS": BIND, "CONNLAB_TAG": TAG}
    try:
        compose("--profile", ARCH, "up", "-d", "--wait", "--no-deps", ARCH, env=env)
        (container,) = docker_client.containers.list(filters={"label": [f"com.docker.compose.project={project}"]})
        yield container
    finally:
        compose("--profile", ARCH, "down", "-v", "--remove-orphans", env=env, check=False)


def test_running_server_is_locked_down_in_docker_inspect(live_server):
    live_server.reload()
    attrs, host = live_server.attrs, live_server.attrs["HostConfig"]
    assert not is_root(attrs["Config"]["User"])
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"] and not host.get("CapAdd")
    assert any(opt.startswith("no-new-privileges") for opt in host["SecurityOpt"])
    assert host["Memory"] > 0 and host["PidsLimit"] > 0
    assert host["RestartPolicy"]["Name"] == "unless-stopped"
    assert host["Privileged"] is False
    assert attrs["State"]["Health"]["Status"] == "healthy"
    bindings = [b for ports in attrs["NetworkSettings"]["Ports"].values() if ports for b in ports]
    assert bindings and {b["HostIp"] for b in bindings} == {BIND}


def test_running_server_process_has_no_privileges(live_server):
    probe = live_server.exec_run(["python", "-c", PROBE], stderr=False)
    assert probe.exit_code == 0, probe.output
    seen = json.loads(probe.output)
    assert seen["uid"] != 0
    assert seen["root_writable"] is False
    assert seen["cap_eff"] == 0 and seen["cap_bnd"] == 0
    assert seen["no_new_privs"] == 1
