"""Every PromQL expression of every dashboard panel, run against a Prometheus that has
scraped a server under the real load generator, the load generator, the node exporter
and itself: none may error or come back empty.

CONNLAB_PROMQL_ARCH picks the architecture (default message-balancing, the one that
also fills the queue-wait panels).
"""

import os

import pytest

from connlab_dashboards import inspect
from conftest import wait_until
from observe_stack import IMAGES, RUN, observed_server, substitute

pytestmark = pytest.mark.integration
ARCH = os.environ.get("CONNLAB_PROMQL_ARCH", "message-balancing")
DASHBOARDS = inspect.load_all()


PANELS = [
    pytest.param(name, title, expr, id=f"{name}: {title} [{ref}]")
    for name, dashboard in DASHBOARDS.items()
    for title, ref, expr in inspect.panel_queries(dashboard)
]
VARIABLES = [
    pytest.param(name, variable, match, label, id=f"{name}: ${variable}")
    for name, dashboard in DASHBOARDS.items()
    for variable, match, label in inspect.variable_queries(dashboard)
]


@pytest.fixture(scope="module")
def prometheus(docker_client):
    missing = [image for image in IMAGES if not docker_client.images.list(name=image)]
    if missing:
        pytest.fail(f"images missing: {missing}; `make images` builds them", pytrace=False)
    with observed_server(ARCH) as (prom, load):
        yield prom
        assert not load.errors, f"the load failed during the queries: {load.errors[:3]}"


def test_every_target_is_up(prometheus):
    def all_up():
        targets = prometheus.targets()
        return targets if targets and all(t["health"] == "up" for t in targets) else None

    targets = wait_until(all_up, 30, "every Prometheus target to be up")
    jobs = {t["labels"]["job"]: t["labels"]["instance"] for t in targets}
    # Discovered by DNS on the compose service names.
    assert jobs.get("connlab-server") == ARCH and jobs.get("node") == "node-exporter", jobs
    assert "connlab-loadgen" in jobs, jobs


def test_a_compare_runs_targets_carry_its_labels_and_the_servers_own_arch(prometheus):
    # job connlab-compare (file_sd, honor_labels): the file's labels on every series, the
    # server's `arch` kept as the server says it (not renamed exported_arch).
    (info,) = prometheus.query(f'connlab_server_info{{job="connlab-compare", run="{RUN}"}}')
    labels = info["metric"]
    assert labels["arch"] == ARCH and labels["scenario"] == "observed" and labels["build"] == "3.13", labels
    assert "exported_arch" not in labels


@pytest.mark.parametrize(("dashboard", "title", "expr"), PANELS)
def test_panel_query_returns_series(prometheus, dashboard, title, expr):
    query = substitute(expr, ARCH)
    try:
        result = prometheus.query(query)
    except RuntimeError as exc:
        pytest.fail(f"{dashboard}: panel {title!r}: query errors: {exc}\n  {query}", pytrace=False)
    assert result, f"{dashboard}: panel {title!r}: no series for\n  {query}"


@pytest.mark.parametrize(("dashboard", "variable", "match", "label"), VARIABLES)
def test_variable_query_has_values(prometheus, dashboard, variable, match, label):
    series = prometheus.api("series", **{"match[]": substitute(match, ARCH)})
    values = {s[label] for s in series if label in s}
    assert values, f"{dashboard}: variable ${variable} would offer no values ({match}, {label})"
    if variable == "arch":
        assert ARCH in values
