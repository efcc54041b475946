"""Prometheus, Grafana provisioning and compose agree with each other."""

import pathlib
import re

import yaml

from connlab import designs
from connlab.config import ARCHITECTURES

ROOT = pathlib.Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose/compose.yaml").read_text())
PROMETHEUS = yaml.safe_load((ROOT / "prometheus/prometheus.yml").read_text())
ARCHS = ARCHITECTURES
LOADGEN_METRICS_PORT = 9646


def seconds(duration):
    value, unit = re.fullmatch(r"(\d+)(ms|s|m)", duration).groups()
    return int(value) * {"ms": 0.001, "s": 1, "m": 60}[unit]


def job(name):
    return next(j for j in PROMETHEUS["scrape_configs"] if j["job_name"] == name)


def test_scrape_interval_fits_a_one_minute_test():
    assert seconds(PROMETHEUS["global"]["scrape_interval"]) <= 5
    for scrape in PROMETHEUS["scrape_configs"]:
        assert seconds(scrape.get("scrape_interval", PROMETHEUS["global"]["scrape_interval"])) <= 5


def test_every_architecture_is_discovered_on_its_metrics_port():
    (sd,) = job("connlab-server")["dns_sd_configs"]
    assert sorted(sd["names"]) == sorted(ARCHS)
    assert sd["port"] == 8000 and sd["type"] == "A"
    assert set(ARCHS) <= set(COMPOSE["services"]), "an architecture has no compose service of its name"


def test_loadgen_and_node_exporter_are_discovered():
    (sd,) = job("connlab-loadgen")["dns_sd_configs"]
    assert sorted(sd["names"]) == ["loadgen", "loadgen-worker"] and sd["port"] == LOADGEN_METRICS_PORT
    (sd,) = job("node")["dns_sd_configs"]
    assert sd["names"] == ["node-exporter"] and "node-exporter" in COMPOSE["services"]


def test_observers_start_with_every_architecture_and_are_published_on_loopback():
    for service in ("prometheus", "node-exporter"):
        assert sorted(COMPOSE["services"][service]["profiles"]) == sorted([*ARCHS, "reference"]), service
    assert COMPOSE["services"]["prometheus"]["ports"] == ["${BIND_ADDRESS:-127.0.0.1}:9090:9090"]
    assert COMPOSE["services"]["grafana"]["ports"] == ["${BIND_ADDRESS:-127.0.0.1}:3000:3000"]
    assert "node-exporter" not in str(COMPOSE["services"]["node-exporter"].get("ports", ""))


def test_grafana_is_a_pinned_official_image_kept_out_of_architecture_profiles():
    grafana = COMPOSE["services"]["grafana"]
    assert re.fullmatch(r"\$\{GRAFANA_IMAGE:-grafana/grafana:\d+\.\d+\.\d+\}", grafana["image"])
    assert grafana["profiles"] == ["grafana"]


def test_grafana_has_no_default_admin_password_and_anonymous_is_read_only():
    grafana = COMPOSE["services"]["grafana"]
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"] == "${GRAFANA_ADMIN_PASSWORD:-}"
    assert "GF_SECURITY_ADMIN_PASSWORD" in " ".join(grafana["entrypoint"])  # refuses to start without it
    env = dict(line.split("=", 1) for line in (ROOT / "grafana/grafana.env").read_text().splitlines()
               if line and not line.startswith("#"))
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true" and env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"


def test_provisioning_points_at_compose_services_and_mounts():
    grafana = COMPOSE["services"]["grafana"]
    mounts = dict(volume.rsplit(":", 2)[:2] for volume in grafana["volumes"] if volume.startswith("./"))
    datasources = yaml.safe_load((ROOT / "grafana/provisioning/datasources/prometheus.yaml").read_text())
    (source,) = datasources["datasources"]
    assert datasources["apiVersion"] == 1 and source["type"] == "prometheus" and source["uid"]
    assert source["url"] == "http://prometheus:9090"
    assert source["jsonData"]["timeInterval"] == PROMETHEUS["global"]["scrape_interval"]
    providers = yaml.safe_load((ROOT / "grafana/provisioning/dashboards/connlab.yaml").read_text())
    (provider,) = providers["providers"]
    assert providers["apiVersion"] == 1 and provider["type"] == "file"
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"


def test_compose_runs_every_design_of_the_table():
    """Each ARCH's compose service runs that ARCH, pinned, and every setting that picks a
    design's mode or counts its processes reaches it."""
    settings = set(designs.choices())
    settings |= {design.processes for design in designs.DESIGNS if design.processes}
    for arch in ARCHS:
        service = COMPOSE["services"][arch]
        assert service["environment"]["ARCH"] == arch and service["cpuset"], arch
        assert settings <= set(service["environment"]), f"{settings - set(service['environment'])} do not reach {arch}"
