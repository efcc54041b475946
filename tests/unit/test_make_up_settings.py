"""`make up` with a bad setting stops before Docker with the server's own message (issue:
"container ... is unhealthy" said nothing). Runs make with a stand-in `docker` on PATH
that records its calls: no real container, no daemon needed."""

import importlib.util
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from connlab.config import ARCHITECTURES, variants

ROOT = Path(__file__).resolve().parents[2]
SERVER_ENV = yaml.safe_load((ROOT / "compose/compose.yaml").read_text())["x-server"]["environment"]
_spec = importlib.util.spec_from_file_location("check_settings", ROOT / "scripts/check_settings.py")
check_settings = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_settings)


@pytest.fixture
def make(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "docker-calls"
    docker = bin_dir / "docker"
    docker.write_text(f'#!/bin/sh\necho "$*" >> "{calls}"\nexit 1\n')
    docker.chmod(0o755)
    # The settings from this test's command lines only, not from the environment it runs in.
    env = {k: v for k, v in os.environ.items() if k not in {*SERVER_ENV, "ARCH", "MAKEFLAGS", "MAKELEVEL"}}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"

    def run(*args):
        result = subprocess.run(["make", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
        result.docker_calls = calls.read_text().splitlines() if calls.exists() else []
        return result

    return run


@pytest.mark.parametrize(
    "setting, message",
    [
        ("DISPATCH=fastest", "DISPATCH='fastest' is not one of: round-robin, least-connections, two-choices, steal"),
        ("WORKERS=0", "WORKERS=0 must be at least 1"),
    ],
)
def test_a_bad_setting_stops_make_up_before_docker(make, setting, message):
    result = make("up", "ARCH=single-acceptor", setting)
    assert result.returncode == 2, result.stderr
    assert f"connlab: ERROR: {message}\n" in result.stderr
    assert "connlab: starting" not in result.stdout
    # Only the Makefile's probe for the compose plugin reached docker: no build, no up.
    assert set(result.docker_calls) <= {"compose version"}


def test_good_settings_pass(make):
    result = make("check-settings", "ARCH=single-acceptor", "DISPATCH=two-choices", "WORKERS=4")
    assert (result.returncode, result.stderr) == (0, "")


# Every ARCH and mode, in process (a make run takes a second): its defaults, what the lab
# runs it with, and WORKERS=4.
@pytest.mark.parametrize(
    "env",
    [{"ARCH": arch, **settings} for arch, settings in variants().values()]
    + [{"ARCH": arch, "WORKERS": "4"} for arch in ARCHITECTURES],
)
def test_every_design_passes(monkeypatch, env):
    for setting in SERVER_ENV:
        monkeypatch.delenv(setting, raising=False)
    for setting, value in env.items():
        monkeypatch.setenv(setting, value)
    check_settings.main()  # exits 2 on a bad setting


def test_the_check_reads_every_setting_that_compose_passes():
    assert check_settings.server_env_names((ROOT / "compose/compose.yaml").read_text()) == list(SERVER_ENV)


def test_an_unknown_reference_stops_make_up_before_docker(make):
    result = make("up", "REFERENCE=nginx/fastest")
    assert result.returncode == 2, result.stderr
    assert "connlab: ERROR: unknown REFERENCE 'nginx/fastest'. Valid: " in result.stderr and " redis" in result.stderr
    assert set(result.docker_calls) <= {"compose version"}


@pytest.mark.parametrize(("settings", "said"), [
    (["SERVER_ENGINE=docker.example"], "is not a Docker engine's address"),
    (["SERVER_ENGINE=tcp://127.0.0.1:1"], "needs SERVER_ADDRESS"),
    (["SERVER_ADDRESS=127.0.0.1"], "without SERVER_ENGINE"),
    (["SERVER_ENGINE=tcp://127.0.0.1:1", "SERVER_ADDRESS=a;b"], "is not a host name"),
    (["REFERENCE=redis", "SERVER_ENGINE=ssh://user@server"], "needs SERVER_ADDRESS"),
])  # fmt: skip
def test_a_bad_server_engine_setting_stops_make_up_before_docker(make, settings, said):
    result = make("up", *settings)
    assert result.returncode == 2 and "connlab: ERROR: " in result.stderr and said in result.stderr, result.stderr
    assert set(result.docker_calls) <= {"compose version"}


def test_a_reference_on_another_engine_is_reached_and_scraped_at_that_machine_s_address():
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'services'}:{ROOT / 'experiments'}",
           "SERVER_ENGINE": "ssh://user@server", "SERVER_ADDRESS": "10.0.0.7"}  # fmt: skip
    result = subprocess.run(["python3", "scripts/reference.py", "nginx"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=30)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "export LOADGEN_HOST=10.0.0.7:8080\n" in result.stdout
    scraped = ROOT / "build/prometheus/targets/reference.json"
    try:
        [target] = json.loads(scraped.read_text())
    finally:
        scraped.unlink()  # no stack's Prometheus may look for that machine
    assert target["targets"] == ["10.0.0.7:8000"]


def test_a_reference_s_settings_go_to_its_container_and_its_port_to_the_load_generator(tmp_path):
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'services'}:{ROOT / 'experiments'}", "WORKERS": "3"}
    result = subprocess.run(["python3", "scripts/reference.py", "redis"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "export LOADGEN_HOST=reference:6379\n" in result.stdout and "export PROTOCOL=resp\n" in result.stdout
    assert "export LOADGEN_DIALECT=redis\n" in result.stdout
    assert "WORKERS" not in (ROOT / "build/reference.env").read_text()  # redis takes no WORKERS
