"""references/granian, for real: one process whose Rust threads hand requests to
WORKERS=2 Python threads answers the routes, and the requests counted per Python thread
add up to what was sent (its connections live on Rust threads the app cannot see)."""

import pytest

from python_reference_checks import requests_add_up, routes_answer, workers
from reference_lab import run_reference

pytestmark = pytest.mark.integration


def test_granian_answers_the_routes_and_counts_per_python_thread():
    with run_reference("granian", WORKERS=2) as (target, ports):
        routes_answer(ports[target.port])
        workers(ports[target.metrics_port], {"executor": 2})  # its pool, listed idle
        figures, _ = requests_add_up(ports, target)
        assert len(figures["per_worker_requests"]) == 2 and figures["cv_connections"] is None
