"""make compare and make up with the server on another machine's Docker engine
(SERVER_ENGINE).

The other machine is of the test's own making: a second Docker engine on this one, with
its own state, socket, containerd namespace and cgroup parent (so that no cgroup file of
its containers is where the lab would look for this engine's), the server and
calibration images copied into it as they would be to another machine. Its servers run
on the host's network, as on another machine; the load stays on this engine and dials
the host's address on Docker's bridge. The points must carry the server's CPU (from the
second engine's stats) and its threads, and only the second engine may have run a server.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import docker
import jsonschema
import pytest

from compose_util import ROOT
from conftest import SERVER_CPUS, SERVER_IMAGE, TAG, wait_until
from connlab_compare import report
from loadgen_lab import LOADGEN_CPUS
from observe_stack import Prometheus

pytestmark = pytest.mark.integration
CALIBRATION_IMAGE = f"connlab/redis:{TAG}"
BRIDGE = f"connlab-e2-{os.getpid() % 10000}"  # the second engine's own bridge (an interface name: 15 characters at most)
STACK = {"COMPOSE_PROJECT_NAME": "connlab-up-engine-test", "BIND_ADDRESS": "127.0.0.3"}  # beside a user's stack


@pytest.fixture(scope="module")
def engine(docker_client, tmp_path_factory):
    """The second engine's address, its images loaded."""
    if os.geteuid() != 0 or not shutil.which("dockerd"):
        pytest.skip("a second Docker engine of the test's own needs root and dockerd on this machine")
    root = tmp_path_factory.mktemp("engine")
    address = f"unix://{root}/docker.sock"
    log = open(root / "dockerd.log", "w")
    # Its own configuration (not /etc/docker's, whose paths are the first engine's), with the
    # storage driver this machine's engine found it can use; and a bridge of its own (with
    # --bridge=none an engine deletes docker0, the first engine's).
    (root / "daemon.json").write_text(json.dumps({"storage-driver": docker_client.info()["Driver"]}))
    subprocess.run(["ip", "link", "add", BRIDGE, "type", "bridge"], check=True)
    subprocess.run(["ip", "addr", "add", "10.213.0.1/24", "dev", BRIDGE], check=True)
    daemon = subprocess.Popen(
        ["dockerd", "--config-file", str(root / "daemon.json"), "--data-root", str(root / "data"),
         "--exec-root", str(root / "exec"), "--pidfile", str(root / "pid"),
         "-H", address, "--bridge", BRIDGE, "--iptables=false", "--ip-masq=false", "--containerd-namespace", "connlab-e2",
         "--containerd-plugins-namespace", "connlab-e2-plugins", "--cgroup-parent", "connlab-e2"],
        stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    clients = []  # the SDK's client asks the engine its version as it is made

    def answering():
        clients[:] = clients or [docker.DockerClient(base_url=address, timeout=120)]
        return daemon.poll() is None and clients[0].ping()

    try:
        wait_until(answering, 60, "the second Docker engine to answer")
        client = clients[0]
        copied = subprocess.run(f"docker save {SERVER_IMAGE} {CALIBRATION_IMAGE} | docker -H {address} load",
                                shell=True, capture_output=True, text=True, timeout=600)  # fmt: skip
        assert copied.returncode == 0, copied.stderr
        yield address, client
    finally:
        if clients and daemon.poll() is None:
            for container in clients[0].containers.list(all=True):
                container.remove(force=True)
        daemon.terminate()
        daemon.wait(60)
        log.close()
        subprocess.run(["ip", "link", "delete", BRIDGE], capture_output=True)
        for mount in sorted((line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
                             if line.split()[1].startswith(str(root))), reverse=True):  # fmt: skip
            subprocess.run(["umount", "-l", mount], capture_output=True)  # what it left mounted (its netns)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def host(docker_client):
    """The host's address on a bridge of this engine: the load's containers reach it, as a
    load machine reaches a server machine's address."""
    network = docker_client.networks.create(f"connlab-engine-test-{os.getpid()}")
    try:
        network.reload()
        yield network.attrs["IPAM"]["Config"][0]["Gateway"]
    finally:
        network.remove()


@pytest.fixture(scope="module")
def run(engine, host, tmp_path_factory):
    yield from _run(engine[0], host, tmp_path_factory.mktemp("compare"))


def _run(address, host, out):
    started = time.time()
    result = subprocess.run(
        [sys.executable, "-m", "connlab_compare", "--scenarios", "head-of-line", "--targets", "single-thread",
         "--quick", "--repeat", "1", "--budget", "0", "--prometheus", "off", "--server-cpus", SERVER_CPUS,
         "--loadgen-cpus", LOADGEN_CPUS, "--server-engine", address, "--server-address", host, "--out", str(out)],
        cwd=ROOT, env={**os.environ, "LOCUST_SKIP_MONKEY_PATCH": "1", "PYTHONPATH": "services:loadgen:experiments"},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (folder,) = [path for path in out.iterdir() if path.is_dir()]
    yield folder, address, host, started


def servers_started(client, since):
    """The images of the lab's servers (containers named connlab-compare-<id>-server) the
    engine started."""
    return {event["Actor"]["Attributes"]["image"] for event in client.events(
        since=int(since), until=int(time.time()) + 1, decode=True, filters={"type": "container", "event": "start"})
        if re.fullmatch(r"connlab-compare-[0-9a-f]{8}-server", event["Actor"]["Attributes"]["name"])}  # fmt: skip


def test_the_servers_ran_on_the_other_engine_and_were_measured_there(run, engine, docker_client):
    folder, address, host, started = run
    results = json.loads((folder / "results.json").read_text())
    jsonschema.validate(results, report.schema())
    machine = results["machine"]["server_engine"]
    assert (machine["engine"], machine["address"]) == (address, host)
    assert machine["images"][SERVER_IMAGE] and machine["cpus"] == engine[1].info()["NCPU"]
    points = results["points"]
    assert len(points) == 2 and {p["target"] for p in points} == {"single-thread"}
    for point in points:
        figures = point["metrics"]
        assert figures["rps"] > 0 and figures["errors"] == 0
        # Its cgroup is the second engine's (connlab-e2/...): the CPU came from that engine's stats.
        assert 0 < figures["server_cpu"] <= 1.05 and 0 <= figures["steal_share"] <= figures["noise"] <= 1
    [traced] = [p for p in points if "threads" in p["metrics"]]
    assert traced["metrics"]["threads"]["event loops"]["threads"] == 1  # read by an exec through the other engine
    assert servers_started(engine[1], started) == {SERVER_IMAGE, CALIBRATION_IMAGE}  # the design, the calibration's
    assert not servers_started(docker_client, started)  # here only the load


def make(*args):
    return subprocess.run(["make", *args], cwd=ROOT, env={**os.environ, **STACK}, capture_output=True, text=True,
                          timeout=600)  # fmt: skip


def stack(client):
    """The services of the test's compose project that an engine runs."""
    project = {"label": f"com.docker.compose.project={STACK['COMPOSE_PROJECT_NAME']}"}
    return {c.labels["com.docker.compose.service"]: c for c in client.containers.list(all=True, filters=project)}


def test_make_up_runs_only_the_server_on_the_other_engine_and_make_down_takes_it_away(engine, host, docker_client):
    address, client = engine
    settings = ["ARCH=single-thread", f"SERVER_ENGINE={address}", f"SERVER_ADDRESS={host}", f"SERVER_CPUS={SERVER_CPUS}"]
    try:
        up = make("up", *settings)
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"redis-cli -h {host} -p 7000 PING" in up.stdout and f"host tcp://{host}:7000" in up.stdout, up.stdout
        there, here = stack(client), stack(docker_client)
        assert list(there) == ["single-thread"] and "single-thread" not in here and {"loadgen", "prometheus"} <= set(here)
        server = there["single-thread"].attrs["HostConfig"]
        assert (server["NetworkMode"], server["CpusetCpus"]) == ("host", SERVER_CPUS)

        load = make("load", *settings, "USERS=2", "DURATION=5s")  # its `make up` keeps the server as it is
        assert load.returncode == 0 and f"{host}:7000 (resp)" in load.stdout, load.stdout + load.stderr
        assert stack(client)["single-thread"].attrs["State"]["StartedAt"] == there["single-thread"].attrs["State"]["StartedAt"]
        prometheus = Prometheus("http://127.0.0.3:9090")
        served = 'connlab_requests_total{job="connlab-server", instance="single-thread"}'
        wait_until(lambda: prometheus.query(f"sum({served}) > 0"), 60,
                   "this engine's Prometheus to scrape the other engine's server")  # fmt: skip
    finally:
        down = make("down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert not stack(client) and not stack(docker_client)
    assert not list((ROOT / "build").glob(f"**/server-engine-{STACK['COMPOSE_PROJECT_NAME']}*"))


def test_make_up_says_when_the_engine_does_not_answer(host):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    refused = make("up", f"SERVER_ENGINE=tcp://127.0.0.1:{closed}", f"SERVER_ADDRESS={host}")
    assert refused.returncode == 2 and "does not answer" in refused.stderr, refused.stdout + refused.stderr
