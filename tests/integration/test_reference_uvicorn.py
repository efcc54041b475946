"""references/uvicorn, for real: `uvicorn` (one worker, the anchor of make bench-server
PROTOCOL=http) and `uvicorn/workers` (WORKERS=2 processes on one socket) answer the
routes, and their per-process counts add up to the requests and connections."""

import pytest

from python_reference_checks import connections_add_up, requests_add_up, routes_answer, workers
from reference_lab import run_reference

pytestmark = pytest.mark.integration


def test_one_worker_answers_the_routes_and_counts_them():
    with run_reference("uvicorn") as (target, ports):
        routes_answer(ports[target.port])
        workers(ports[target.metrics_port], {"reader-executor": 1})
        requests_add_up(ports, target)
        connections_add_up(ports, target)


def test_two_workers_count_their_requests_and_connections_each():
    with run_reference("uvicorn/workers", WORKERS=2) as (target, ports):
        routes_answer(ports[target.port])
        workers(ports[target.metrics_port], {"reader-executor": 2})  # idle or not
        figures, _ = requests_add_up(ports, target)
        assert figures["cv_requests"] is not None  # spread reads both processes
        connections_add_up(ports, target)
