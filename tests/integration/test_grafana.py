"""Live Grafana: provisioning loaded, dashboards listed through grafana-client, the
datasource healthy, anonymous read-only, no admin/admin, an annotation round trip.

Runs only where the pinned official Grafana image is present (`docker pull` it where a
registry answers); skipped with the reason otherwise.
"""

import base64
import json
import pathlib
import re
import secrets
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest
import yaml
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network

from grafana_client import GrafanaApi

from connlab_dashboards import inspect
from connlab_loadgen.annotations import Annotator
from conftest import wait_until
from observe_stack import PROMETHEUS_IMAGE

pytestmark = pytest.mark.integration
ROOT = pathlib.Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose/compose.yaml").read_text())
# The same pin as compose and the Makefile: ${GRAFANA_IMAGE:-grafana/grafana:X.Y.Z}.
GRAFANA_IMAGE = re.fullmatch(r"\$\{GRAFANA_IMAGE:-(.+)\}", COMPOSE["services"]["grafana"]["image"]).group(1)
DATASOURCE_UID = "connlab-prometheus"


def grafana_env():
    lines = (ROOT / "grafana/grafana.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


@pytest.fixture(scope="module")
def grafana(docker_client):
    if not docker_client.images.list(name=GRAFANA_IMAGE):
        pytest.skip(
            f"Grafana image {GRAFANA_IMAGE} is not present: no registry is reachable here and Grafana is "
            f"neither in Debian nor on PyPI. Where a registry answers: `docker pull {GRAFANA_IMAGE}`, then rerun."
        )
    password = secrets.token_urlsafe(18)
    with Network() as network:
        prometheus = DockerContainer(PROMETHEUS_IMAGE).with_network(network).with_network_aliases("prometheus")
        grafana = (
            DockerContainer(GRAFANA_IMAGE)
            .with_network(network)
            .with_exposed_ports(3000)
            .with_env("GF_SECURITY_ADMIN_PASSWORD", password)
            .with_volume_mapping(str(ROOT / "grafana/provisioning"), "/etc/grafana/provisioning", "ro")
            .with_volume_mapping(str(ROOT / "grafana/dashboards"), "/var/lib/connlab/dashboards", "ro")
        )
        for key, value in grafana_env().items():
            grafana.with_env(key, value)
        with prometheus, grafana:
            url = f"http://{grafana.get_container_host_ip()}:{grafana.get_exposed_port(3000)}"
            wait_until(lambda: http_status(f"{url}/api/health")[0] == 200, 120, "Grafana to answer /api/health")
            api = GrafanaApi.from_url(url, credential=("admin", password), timeout=5)
            api.health.check()
            wait_until(lambda: api.search.search_dashboards(tag="connlab"), 90, "Grafana to provision the dashboards")
            yield url, api, password


def http_status(url, data=None, auth=None):
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, None


def test_every_committed_dashboard_is_provisioned(grafana):
    _, api, _ = grafana
    listed = {d["uid"]: d for d in api.search.search_dashboards(tag="connlab")}
    expected = {d["uid"] for d in inspect.load_all().values()}
    assert set(listed) == expected
    for uid in expected:
        assert api.dashboard.get_dashboard(uid)["meta"]["provisioned"] is True


def test_datasource_is_provisioned_and_healthy(grafana):
    _, api, _ = grafana
    assert api.datasource.get_datasource_by_uid(DATASOURCE_UID)["type"] == "prometheus"
    health = wait_until(lambda: api.datasource.health(DATASOURCE_UID), 30, "the datasource health check")
    assert health["status"] == "OK", health


def test_anonymous_can_view_but_not_edit(grafana):
    url, _, _ = grafana
    status, found = http_status(f"{url}/api/search?tag=connlab")
    assert status == 200 and found
    status, _ = http_status(f"{url}/api/dashboards/db", data=json.dumps({"dashboard": {"title": "x"}}).encode())
    assert status in (401, 403)


def test_default_admin_password_is_refused(grafana):
    url, _, _ = grafana
    status, _ = http_status(f"{url}/api/org", auth="admin:admin")
    assert status == 401


def test_annotation_round_trip(grafana):
    """What the load generator does at the start of a load test, read back."""
    url, api, password = grafana
    marker = secrets.token_hex(4)
    options = SimpleNamespace(num_users=10, spawn_rate=10, mix=f"PING:{marker}", connection_mode="persistent")
    environment = SimpleNamespace(host="tcp://socket-sharding:7000", parsed_options=options)
    reply = Annotator(url, credential=("admin", password)).annotate("start", environment)
    annotation_id = reply["id"]
    try:
        found = api.annotations.find_annotations(tags=["connlab", "socket-sharding"])
        assert any(marker in a["text"] and a["id"] == annotation_id for a in found)
    finally:
        api.annotations.delete_annotations_by_id(annotation_id)
    found = api.annotations.find_annotations(tags=["connlab", "socket-sharding"])
    assert not any(a["id"] == annotation_id for a in found)
