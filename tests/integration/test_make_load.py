"""`make up` then `make load`, as a user runs them, here with PROTOCOL=http (RESP's
`make up` is test_prometheus' and test_lockdown's; the load generator in RESP, the other
load generator tests'): the headless load goes through the stack's own Locust workers,
so Prometheus has its load-generator series and every load-generator panel of the
dashboards has data for the run.

The stack runs as its own compose project on 127.0.0.2, so a stack the user keeps up
on 127.0.0.1 is neither disturbed nor in the way.
"""

import json
import os
import re
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from compose_util import ROOT, compose
from connlab_dashboards import inspect
from observe_stack import Prometheus, substitute

pytestmark = pytest.mark.integration
ARCH = "single-thread"
STACK = {"COMPOSE_PROJECT_NAME": "connlab-make-load-test", "BIND_ADDRESS": "127.0.0.2"}
LOADGEN_PANELS = [
    pytest.param(name, title, expr, id=f"{name}: {title} [{ref}]")
    for name, dashboard in inspect.load_all().items()
    for title, ref, expr in inspect.panel_queries(dashboard)
    if "connlab_loadgen_" in expr
]


def make(*args, timeout=600):
    result = subprocess.run(["make", *args], cwd=ROOT, env={**os.environ, **STACK}, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"make {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def headless_run(docker_client):
    """Prometheus, the time window of one `make load` of every command, its output and
    `make up`'s."""
    try:
        up = make("up", f"ARCH={ARCH}", "PROTOCOL=http")
        started = time.time()
        output = make("load", f"ARCH={ARCH}", "PROTOCOL=http", "USERS=4", "DURATION=20s",
                      "LOAD_ARGS=--mix PING:2,ECHO:1,WORK:1,SLEEP:1 --sleep-ms 2")
        yield Prometheus("http://127.0.0.2:9090"), started, time.time(), output, up
    finally:
        compose("down", "--volumes", "--remove-orphans", env={**STACK, "COMPOSE_PROFILES": "*"}, check=False, timeout=300)


def test_make_up_says_how_to_reach_the_http_server(headless_run):
    *_, up = headless_run
    assert "curl http://127.0.0.2:7001/ping" in up and "redis-cli" not in up, up


def test_the_web_ui_defaults_to_the_stacks_protocol(headless_run):
    with urllib.request.urlopen("http://127.0.0.2:8089/", timeout=10) as response:
        page = response.read().decode()
    template_args = json.loads(re.search(r"window\.templateArgs = (\{.*\})", page).group(1))
    protocol = template_args["extra_options"]["protocol"]
    assert protocol["default_value"] == "http" and protocol["choices"] == ["resp", "http"], protocol


def test_make_load_prints_the_summary(headless_run):
    *_, output, _ = headless_run
    assert "Latency in ms" in output and "HTTP   PING" in output, output
    assert "single-thread:7000 (http)" in output, output
    assert "load generator CPU of worker" in output, output
    assert "CSV files: results/load/single-thread-" in output, output
    report = re.search(r"Locust's report: (\S+_report\.html)", output).group(1)
    assert "<html" in (ROOT / report).read_text().lower()
    history = (ROOT / report.replace("_report.html", "_history.csv")).read_text().splitlines()
    assert history[0].startswith("time,") and "current_rps" in history[0] and len(history) >= 3  # 20 s, a row every few


@pytest.mark.parametrize(("dashboard", "title", "expr"), LOADGEN_PANELS)
def test_load_generator_panel_has_data_for_the_run(headless_run, dashboard, title, expr):
    prometheus, started, ended, *_ = headless_run
    query = substitute(expr, ARCH)
    # Rates need two scrapes inside their window: ask over the run, as Grafana would.
    result = prometheus.api("query_range", query=query, start=started, end=ended + 10, step=5)["result"]
    assert result, f"{dashboard}: panel {title!r}: no series during the `make load` run for\n  {urllib.parse.unquote(query)}"
