"""compose/compose.yaml as written: every service locked down (issue 6). The composed
config and a live container are checked in tests/integration/test_lockdown.py."""

import pathlib

import re

import pytest
import yaml

from lockdown import is_root, problems

ROOT = pathlib.Path(__file__).resolve().parents[2]
SERVICES = yaml.safe_load((ROOT / "compose/compose.yaml").read_text())["services"]  # merge keys resolved


def as_composed(service):
    """The few fields `problems` reads, in the shape `compose config` gives them."""
    composed = dict(service)
    composed["mem_limit"] = 1 if service.get("mem_limit") else 0  # "1g", "${SERVER_MEMORY:-1g}"
    composed["ports"] = []
    return composed


# A reference (make up REFERENCE=) runs a real server as its Debian package sets it up:
# nginx's master starts as root and drops to its workers' user, and each writes where its
# package expects (pid files, temporary bodies). The rest of the lockdown holds for it.
AS_PACKAGED = ("runs as root", "root filesystem is writable", "no tmpfs", "cap_drop is")


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_is_locked_down(name):
    found = problems(as_composed(SERVICES[name]))
    if name == "reference":
        found = [problem for problem in found if not problem.startswith(AS_PACKAGED)]
    assert found == []


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_published_ports_default_to_loopback(name):
    for port in SERVICES[name].get("ports", []):
        assert "${BIND_ADDRESS:-127.0.0.1}" in port, port  # BIND_ADDRESS moves it
        assert with_defaults(port).startswith("127.0.0.1:"), port


def with_defaults(text):
    """Resolve ${VAR:-default} as compose does with none of the variables set."""
    innermost = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:-([^${}]*)\}")
    while innermost.search(text):
        text = innermost.sub(r"\1", text)
    return text


def test_grafana_admin_password_comes_from_the_environment():
    grafana = SERVICES["grafana"]
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"] == "${GRAFANA_ADMIN_PASSWORD:-}"
    assert "GF_SECURITY_ADMIN_PASSWORD" not in (ROOT / "grafana/grafana.env").read_text()


@pytest.mark.parametrize("user, root", [(None, True), ("", True), ("0", True), ("root:root", True), ("0:0", True),
                                        ("10001", False), ("65534:65534", False), ("472", False)])
def test_root_detection(user, root):
    assert is_root(user) is root


def test_problems_are_found():
    """The checker itself: a bare service breaks every rule it checks."""
    found = problems({"ports": [{"host_ip": "", "published": "7001", "target": 7000}]})
    assert len(found) == 10
