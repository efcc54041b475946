"""Request accounting: per-thread tallies in shared memory, summed at scrape time under
the metric names and meanings the dashboards query."""

import os

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from connlab import commands, tally
from connlab.metrics import Metrics, RequestCollector
from connlab_loadgen import exposition

MS = 1_000_000  # nanoseconds


def scrape(board, arch="hybrid"):
    """{(sample name, sorted labels): value} as /metrics would show them."""
    registry = CollectorRegistry()
    registry.register(RequestCollector(arch, board))
    text = generate_latest(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for found in exposition.samples(text).values() for s in found}


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted({"arch": "hybrid", **labels}.items()))))


@pytest.fixture
def board():
    return tally.Board(16, commands.METRIC_LABELS)


def test_a_batch_counts_each_request_at_the_batch_latency(board):
    worker = board.take("0")
    worker.requests_done(["PING"] * 16, 2 * MS)  # one read, 16 replies ready after 2 ms
    worker.requests_done(["PING", "ECHO", "PING"], 30 * MS)
    samples = scrape(board)
    assert value(samples, "connlab_requests_total", command="PING") == 18
    assert value(samples, "connlab_requests_total", command="ECHO") == 1
    assert value(samples, "connlab_request_duration_seconds_bucket", command="PING", le="0.001") == 0
    assert value(samples, "connlab_request_duration_seconds_bucket", command="PING", le="0.0025") == 16
    assert value(samples, "connlab_request_duration_seconds_bucket", command="PING", le="0.05") == 18
    assert value(samples, "connlab_request_duration_seconds_bucket", command="PING", le="+Inf") == 18
    assert value(samples, "connlab_request_duration_seconds_count", command="PING") == 18
    assert value(samples, "connlab_request_duration_seconds_sum", command="PING") == pytest.approx(16 * 0.002 + 2 * 0.03)
    assert value(samples, "connlab_worker_requests_total", worker="0") == 19


def test_bucket_bounds_are_inclusive_as_prometheus_le(board):
    worker = board.take("0")
    worker.requests_done(["PING"], 1 * MS)  # exactly on the 0.001 bound
    worker.requests_done(["PING"], 20 * 1000 * MS)  # beyond the last bound
    samples = scrape(board)
    assert value(samples, "connlab_request_duration_seconds_bucket", command="PING", le="0.0005") == 0
    assert value(samples, "connlab_request_duration_seconds_bucket", command="PING", le="0.001") == 1
    assert value(samples, "connlab_request_duration_seconds_bucket", command="PING", le="10.0") == 1
    assert value(samples, "connlab_request_duration_seconds_bucket", command="PING", le="+Inf") == 2


def test_threads_with_one_name_add_up_and_helpers_have_no_worker_series(board):
    for name in ("0", "0", "1"):
        board.take(name).requests_done(["PING"], MS)
    acceptor = board.take("acceptor", role=0)
    acceptor.count(tally.REJECTED)
    acceptor.count(tally.THREADS_STARTED, 3)
    samples = scrape(board)
    assert value(samples, "connlab_worker_requests_total", worker="0") == 2
    assert value(samples, "connlab_worker_requests_total", worker="1") == 1
    assert value(samples, "connlab_worker_requests_total", worker="acceptor") is None
    assert value(samples, "connlab_connections_rejected_total") == 1
    assert value(samples, "connlab_connection_threads_started_total") == 3


def test_connections_and_queue(board):
    io, worker = board.take("p0-io", tally.READS), board.take("p0-0", tally.EXECUTES)
    io.count(tally.ACCEPTED, 3)
    io.count(tally.CLOSED)
    io.count(tally.QUEUED, 5)
    for _ in range(4):
        worker.request_done("PING", MS, waited=MS // 10)
    samples = scrape(board)
    assert value(samples, "connlab_connections_accepted_total", worker="p0-io") == 3
    assert value(samples, "connlab_connections_active", worker="p0-io") == 2
    # A reader that executes nothing has no request series, a pool worker no connections.
    assert value(samples, "connlab_worker_requests_total", worker="p0-io") is None
    assert value(samples, "connlab_connections_accepted_total", worker="p0-0") is None
    assert value(samples, "connlab_queue_depth") == 1
    assert value(samples, "connlab_queue_wait_seconds_count") == 4
    assert value(samples, "connlab_queue_wait_seconds_bucket", le="0.00025") == 4
    # Every worker is listed with its role, whether it did anything yet or not.
    board.take("p0-1", tally.EXECUTES)
    samples = scrape(board)
    assert value(samples, "connlab_workers", worker="p0-io", role="reader") == 1
    assert value(samples, "connlab_workers", worker="p0-1", role="executor") == 1


def test_a_borrowed_slot_is_reused_by_name_and_counts_carry_on(board):
    with board.borrowed("per-connection") as first:
        first.requests_done(["PING"], MS)
    with board.borrowed("per-connection") as second:
        second.requests_done(["PING"], MS)
        with board.borrowed("per-connection") as third:  # two at once: two slots
            third.requests_done(["PING"], MS)
    assert len(board.slots()) == 2
    assert value(scrape(board), "connlab_worker_requests_total", worker="per-connection") == 3


def test_a_full_board_says_what_to_do():
    small = tally.Board(1, commands.METRIC_LABELS)
    small.take("0")
    with pytest.raises(RuntimeError, match="raise MAX_CONNECTIONS"):
        small.take("1")


def test_requests_off_for_the_benchmark_only(board):
    metrics = Metrics("hybrid", board, request_metrics=False)
    assert metrics.tally("0").recording is False
    with metrics.borrowed("per-connection") as counts:  # a thread per connection too
        assert counts.recording is False
    with Metrics("hybrid", board).borrowed("per-connection") as counts:
        assert counts.recording is True


def test_counts_cross_fork_and_survive_a_replaced_process(board):
    """A worker process writes its slots; the master reads them, and after the process
    dies its successor (same slot names) carries on from its counts."""

    def child(name, accepted):
        pid = os.fork()
        if pid == 0:
            try:
                counts = board.take(name)
                counts.count(tally.ACCEPTED, accepted)
                counts.requests_done(["ECHO"] * 5, MS)
                counts.count(tally.QUEUED, 2)  # never taken: lost with the process
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        return pid

    first = child("0", accepted=3)
    samples = scrape(board)
    assert value(samples, "connlab_requests_total", command="ECHO") == 5
    assert value(samples, "connlab_connections_active", worker="0") == 3
    board.release_process(first)
    samples = scrape(board)
    assert value(samples, "connlab_connections_active", worker="0") == 0
    assert value(samples, "connlab_queue_depth") == 0
    child("0", accepted=1)
    samples = scrape(board)
    assert len(board.slots()) == 1, "the successor took its predecessor's slot"
    assert value(samples, "connlab_requests_total", command="ECHO") == 10
    assert value(samples, "connlab_connections_accepted_total", worker="0") == 4

