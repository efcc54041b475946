"""A server, the node exporter and Prometheus on one Docker network, plus a bounded load.

Prometheus runs the image's own config (prometheus/prometheus.yml): the server gets the
network alias of its architecture and the exporter `node-exporter`, exactly the compose
service names the DNS service discovery looks for.
"""

import contextlib
import json
import re
import socket
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network

from conftest import SERVER_CPUS, SERVER_IMAGE, TAG, ping, wait_until
from connlab_loadgen.resp import bulk, encode
from loadgen_lab import LOADGEN_CPUS, LOADGEN_IMAGE
from wire import expect

PROMETHEUS_IMAGE = f"connlab/prometheus:{TAG}"
NODE_EXPORTER_IMAGE = f"connlab/node-exporter:{TAG}"
IMAGES = (SERVER_IMAGE, PROMETHEUS_IMAGE, NODE_EXPORTER_IMAGE, LOADGEN_IMAGE)
# The real load generator, headless, bounded: every command, so every panel has data.
LOADGEN_ARGS = ["--headless", "-u", "4", "-r", "4", "-t", "300s", "--mix", "PING:2,ECHO:1,WORK:1,SLEEP:1"]
PING = encode(b"PING")
ECHO = encode(b"ECHO", b"hello")


class Load:
    """Some steady connections sending PING and ECHO, and one thread opening and closing
    connections; stops on exit or after `limit` seconds, whichever comes first."""

    def __init__(self, host, port, connections=4, limit=300):
        self.address = (host, port)
        self.connections = connections
        self.deadline = time.monotonic() + limit
        self.stop = threading.Event()
        self.errors = []
        self.threads = []

    def _running(self):
        return not self.stop.is_set() and time.monotonic() < self.deadline

    def _steady(self):
        try:
            with socket.create_connection(self.address, timeout=10) as sock:
                while self._running():
                    expect(sock, PING, b"+PONG\r\n")
                    expect(sock, ECHO, bulk(b"hello"))
                    time.sleep(0.001)  # leave the two shared CPUs some air
        except Exception as exc:  # reported by the fixture, not lost in a thread
            self.errors.append(exc)

    def _churn(self):
        try:
            while self._running():
                with socket.create_connection(self.address, timeout=10) as sock:
                    expect(sock, PING, b"+PONG\r\n")
                time.sleep(0.05)
        except Exception as exc:
            self.errors.append(exc)

    def __enter__(self):
        targets = [self._steady] * self.connections + [self._churn]
        self.threads = [threading.Thread(target=t, daemon=True) for t in targets]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=15)


def substitute(expr, arch):
    """A dashboard query as Grafana would send it: the selected architecture, every
    run, build and command, and windows that span a few 5 s scrapes ($__rate_interval is at least
    four scrape intervals)."""
    values = {"run": ".*", "arch": arch, "gil": ".*", "command": ".*", "__rate_interval": "20s", "__range": "5m", "__interval": "5s"}

    def value(match):
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"no test value for ${name} in {expr}")
        return values[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


@dataclass
class Prometheus:
    url: str

    def api(self, path, **params):
        query = urllib.parse.urlencode(params, doseq=True)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as response:
            body = json.load(response)
        if body.get("status") != "success":
            raise RuntimeError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr):
        """Instant query; raises with Prometheus's message when the expression errors."""
        request = urllib.request.Request(
            f"{self.url}/api/v1/query", data=urllib.parse.urlencode({"query": expr}).encode(), method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                body = json.load(response)
        except urllib.error.HTTPError as exc:  # 400/422: bad expression, with a JSON reason
            body = json.load(exc)
        if body.get("status") != "success":
            raise RuntimeError(f"{body.get('errorType')}: {body.get('error')}")
        return body["data"]["result"]

    def targets(self):
        return self.api("targets", state="active")["activeTargets"]


RUN = "observed"  # the `run` label of the server's second target


def write_targets(folder, arch):
    """A targets file as `make compare` writes it (experiments/connlab_compare/scrape.py):
    the server again, as a compare run's, so that the job connlab-compare and the
    dashboards' $run have something to show."""
    folder = Path(folder)
    labels = {"run": RUN, "scenario": "observed", "arch": arch, "design": arch, "build": "3.13", "role": "server"}
    (folder / "observed.json").write_text(json.dumps([{"targets": [f"{arch}:8000"], "labels": labels}]))
    for path in (folder, folder / "observed.json"):
        path.chmod(0o755)  # Prometheus runs as nobody


@contextlib.contextmanager
def observed_server(arch):
    """Yield (Prometheus, Load) once Prometheus has scraped the loaded server, the load
    generator and the exporter three times. Load adds connection churn to the load
    generator's persistent connections."""
    with Network() as network, tempfile.TemporaryDirectory(prefix="connlab-targets-") as targets:
        write_targets(targets, arch)
        server = (
            DockerContainer(SERVER_IMAGE)
            .with_env("ARCH", arch)
            .with_exposed_ports(7000)
            .with_network(network)
            .with_network_aliases(arch)
            .with_kwargs(cpuset_cpus=SERVER_CPUS)
        )
        node = DockerContainer(NODE_EXPORTER_IMAGE).with_network(network).with_network_aliases("node-exporter")
        locust = (
            DockerContainer(LOADGEN_IMAGE)
            .with_network(network)
            .with_network_aliases("loadgen")  # the name Prometheus looks up
            .with_command([*LOADGEN_ARGS, "--host", f"tcp://{arch}:7000"])
            .with_kwargs(cpuset_cpus=LOADGEN_CPUS)
        )
        prometheus = (
            DockerContainer(PROMETHEUS_IMAGE).with_exposed_ports(9090).with_network(network)
            .with_volume_mapping(targets, "/etc/connlab/targets", "ro")
        )
        with server, node:
            host, port = server.get_container_host_ip(), int(server.get_exposed_port(7000))
            wait_until(lambda: ping(host, port), 30, f"{arch} to answer PING")
            with prometheus:
                prom = Prometheus(f"http://{prometheus.get_container_host_ip()}:{prometheus.get_exposed_port(9090)}")
                wait_until(lambda: prom.api("status/buildinfo"), 60, "Prometheus to answer")
                with locust, Load(host, port, connections=0) as load:
                    # Rates need two scrapes of a moving counter (5 s apart): wait for
                    # three scrapes of every target (server, exporter, load generator,
                    # Prometheus itself, the server as a compare run's) taken while the load runs.
                    scraped = "count(count_over_time(up[15s]) >= 3) >= 5"
                    served = f'sum(rate(connlab_requests_total{{arch="{arch}"}}[20s])) > 0'
                    loaded = "sum(rate(connlab_loadgen_requests_total[20s])) > 0"
                    wait_until(lambda: prom.query(scraped) and prom.query(served) and prom.query(loaded), 120,
                               f"Prometheus to scrape every target three times while {arch} serves the load")
                    assert not load.errors, f"the load failed: {load.errors[:3]}"
                    yield prom, load
