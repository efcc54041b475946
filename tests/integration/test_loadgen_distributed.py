"""Locust's distributed mode in containers: a master and two workers, against a real
server; both workers must run users and report requests."""

import contextlib

import pytest

from conftest import wait_until
from loadgen_lab import get_json, loadgen, metric, network, post_form, server_on, url

pytestmark = pytest.mark.integration
ARCH = "single-thread"


def test_master_with_two_workers_both_report(docker_client):
    with network() as net, server_on(net, ARCH), contextlib.ExitStack() as stack:
        master = stack.enter_context(
            loadgen(net, "--master", LOCUST_HOST=f"tcp://{ARCH}:7000", LOADGEN_ROLE="master")
            .with_network_aliases("loadgen")
            .with_exposed_ports(8089)
        )
        workers = [
            stack.enter_context(loadgen(net, "--worker", "--master-host", "loadgen", LOADGEN_ROLE="worker"))
            for _ in range(2)
        ]
        ui = url(master, 8089)
        wait_until(lambda: len(get_json(f"{ui}/stats/requests")["workers"]) == 2, 60, "two workers to connect")

        started = post_form(f"{ui}/swarm", {
            "user_count": 4, "spawn_rate": 4, "host": f"tcp://{ARCH}:7000", "mix": "PING:3,ECHO:1",
        })
        assert started["success"], started
        try:
            # Each worker counts its own requests: both must be sending and answered.
            for worker in workers:
                wait_until(lambda w=worker: metric(w, "connlab_loadgen_requests_total", command="PING", result="ok") > 0,
                           60, "a worker to count successful PINGs")
            # And the master has both workers' users and aggregated stats from them.
            def aggregated():
                stats = get_json(f"{ui}/stats/requests")
                names = {row["name"] for row in stats["stats"]}
                return stats["user_count"] == 4 and {"PING", "ECHO 16B"} <= names and stats

            stats = wait_until(aggregated, 60, "the master to aggregate the workers' PING and ECHO stats")
            assert [w["user_count"] for w in stats["workers"]] == [2, 2]
            assert stats["fail_ratio"] == 0
        finally:
            post_form(f"{ui}/stop", {})
        wait_until(lambda: get_json(f"{ui}/stats/requests")["state"] == "stopped", 30, "the test to stop")
