"""The load generator headless in a container (what `make load` runs): the summary
prints sub-millisecond latencies with their fractions, failures are named rows of
Locust's failure table, not crashed users, and HTTP works as RESP does."""

import re

import pytest
from testcontainers.core.container import DockerContainer

from conftest import wait_until
from loadgen_lab import LOADGEN_IMAGE, LOADGEN_CPUS, network, server_on

pytestmark = pytest.mark.integration
ARCH = "single-thread"


def run_headless(docker_client, net, host, *args, **env):
    container = (
        DockerContainer(LOADGEN_IMAGE)
        .with_network(net)
        .with_command(["--headless", "-u", "4", "-r", "4", "-t", "3s", "--host", host, "--only-summary", *args])
        .with_env("LOADGEN_METRICS_PORT", "0")
        .with_kwargs(cpuset_cpus=LOADGEN_CPUS)
    )
    for key, value in env.items():
        container.with_env(key, value)
    container.start()
    try:
        raw = docker_client.containers.get(container.get_wrapped_container().id)
        status = wait_until(lambda: raw.reload() or raw.status == "exited" and raw.attrs["State"], 60,
                            "the headless run to end")
        return status["ExitCode"], raw.logs().decode()
    finally:
        container.stop()


def latency_row(output, name, method="RESP"):
    """The numbers of `name`'s row in our ms table (avg, min, p50 ... p100)."""
    table = output.split("Latency in ms", 1)[1]
    row = re.search(rf"^{method}\s+{re.escape(name)}\s+(\d+)\s+(\d+)\s+([\d.\s]+)$", table, re.M)
    assert row, table
    return int(row[1]), int(row[2]), [float(v) for v in row[3].split()]


def test_headless_run_reports_fractional_milliseconds(docker_client):
    with network() as net, server_on(net, ARCH):
        code, output = run_headless(docker_client, net, f"tcp://{ARCH}:7000", "--mix", "PING:1,WORK:1", "--work-us", "200")
    assert code == 0, output
    requests, failures, (avg, minimum, p50, *_rest) = latency_row(output, "PING")
    assert requests > 0 and failures == 0
    # Exact, not rounded to whole ms: a loopback PING's fastest round trip has a fraction.
    assert 0 < minimum and minimum != round(minimum)
    assert p50 > 0
    _, _, (_, work_min, *_) = latency_row(output, "WORK 200us")
    assert work_min >= 0.2  # the server burns 200 us per WORK before it answers
    assert "Response time percentiles" in output  # Locust's own summary is there too


def test_headless_run_over_http(docker_client):
    """PROTOCOL=http, as compose gives server and load generator alike: every command of
    the mix, pipelined, as HTTP requests, answered and recorded as HTTP rows."""
    with network() as net, server_on(net, ARCH, protocol="http"):
        code, output = run_headless(docker_client, net, f"tcp://{ARCH}:7000", "--mix", "PING:2,ECHO:1,WORK:1,SLEEP:1",
                                    "--sleep-ms", "2", "--pipeline", "4", PROTOCOL="http")
    assert code == 0, output
    for name in ("PING", "ECHO 16B", "WORK 100us", "SLEEP 2ms"):
        requests, failures, _ = latency_row(output, name, method="HTTP")
        assert requests > 0 and failures == 0, (name, output)
    assert not re.search(r"^RESP\s", output.split("Latency in ms", 1)[1], re.M), output


def test_unreachable_server_is_a_named_failure_and_users_survive(docker_client):
    with network() as net:
        code, output = run_headless(docker_client, net, "tcp://nothing-here:7000")
    assert code == 1, output  # Locust's exit code when requests failed
    assert re.search(r"^\d+\s+RESP connect: connect: host name not resolved", output, re.M), output
    assert "Traceback" not in output
