"""references/gunicorn, for real: gthread with WORKERS=2 processes of the record's THREADS=4 threads
answers the routes; its counts, connections per process and requests per pool thread,
add up to what was sent."""

import pytest

from python_reference_checks import connections_add_up, requests_add_up, routes_answer, workers
from reference_lab import run_reference

pytestmark = pytest.mark.integration


def test_gthread_answers_the_routes_and_counts_per_process_and_thread():
    with run_reference("gunicorn", WORKERS=2) as (target, ports):
        threads = int(target.env["THREADS"])  # the record's pool size (not a lab setting)
        routes_answer(ports[target.port])
        roles = workers(ports[target.metrics_port], {"reader": 2, "executor": 2 * threads})  # idle threads too
        assert all(thread.split(".")[0] in roles["reader"] for thread in roles["executor"])
        figures, _ = requests_add_up(ports, target)
        assert len(figures["per_worker_requests"]) == 2 * threads
        connections_add_up(ports, target)
