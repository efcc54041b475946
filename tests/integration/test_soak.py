"""The short form of `make soak`: seconds, not minutes, of mixed load with connection
churn on every architecture; no errors, and fds and threads back to idle afterwards."""

import pytest

from conftest import CONFIGS, run_server
from metrics_util import resources
from soak import Soak, settle

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("name", list(CONFIGS))
def test_short_soak(name, docker_client):
    arch, env = CONFIGS[name]
    with run_server(arch, docker={"healthcheck": {"test": ["NONE"]}}, **env) as server:
        idle_before = resources(server)
        soak = Soak(server, seconds=4, clients=4, churn=2, seed=len(name))
        soak.run(lambda elapsed: None)
        idle_after = settle(server, idle_before)
    assert soak.errors == []
    assert soak.requests > 0 and soak.connections > 0
    assert idle_after["fds"] <= idle_before["fds"]
    assert idle_after["threads"] <= idle_before["threads"]
