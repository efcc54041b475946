"""The recorder folds successes into Locust's statistics and our metrics as if each had
been logged on its own."""

import pytest
from locust.env import Environment
from locust.stats import RequestStats
from prometheus_client import REGISTRY

from connlab_loadgen import precision
from connlab_loadgen.recorder import FLUSH_SECONDS, Recorder


class Clock:
    def __init__(self, now=100.0):
        self.now = now

    def __call__(self):
        return self.now


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def recorder():
    precision.install()
    environment = Environment()
    environment.stats = RequestStats()
    return Recorder(environment, clock=Clock(), wall=Clock(1_000_000.5))


def test_a_batch_reads_as_requests_logged_one_by_one(recorder):
    latencies = [0.31, 0.3, 0.29, 0.3, 2.5, 0.3]
    expected = RequestStats()
    for milliseconds in latencies:
        expected.log_request("RESP", "PING x", milliseconds, 7)
    ok_before = sample("connlab_loadgen_requests_total", command="PING x", result="ok")
    for milliseconds in latencies:
        recorder.ok("PING x", milliseconds, 7, now=0.0)  # not due yet
    recorder.flush()
    for got, want in ((recorder.environment.stats.get("PING x", "RESP"), expected.get("PING x", "RESP")),
                      (recorder.environment.stats.total, expected.total)):
        assert got.num_requests == want.num_requests == 6
        assert got.total_response_time == pytest.approx(want.total_response_time)
        assert (got.min_response_time, got.max_response_time) == (want.min_response_time, want.max_response_time)
        assert dict(got.response_times) == dict(want.response_times)
        assert got.total_content_length == want.total_content_length
        assert got.get_response_time_percentile(0.5) == pytest.approx(0.3)
    assert sample("connlab_loadgen_requests_total", command="PING x", result="ok") - ok_before == 6
    assert sample("connlab_loadgen_latency_seconds_bucket", command="PING x", le="0.0003") == 4
    assert sample("connlab_loadgen_latency_seconds_bucket", command="PING x", le="0.003") == 6
    assert sample("connlab_loadgen_latency_seconds_sum", command="PING x") == pytest.approx(sum(latencies) / 1000)


def test_requests_are_folded_in_when_due_and_counted_in_their_second(recorder):
    recorder.ok("ECHO y", 1.0, 3, now=recorder.clock.now)  # due at once: folded in
    entry = recorder.environment.stats.get("ECHO y", "RESP")
    assert entry.num_requests == 1 and dict(entry.num_reqs_per_sec) == {1_000_000: 1}
    # Next due: the end of this wall second (0.5 s away) or FLUSH_SECONDS, whichever first.
    assert recorder.due == pytest.approx(100.0 + min(FLUSH_SECONDS, 0.5))
    recorder.ok("ECHO y", 1.0, 3, now=recorder.due - 0.01)
    assert entry.num_requests == 1  # not yet
    recorder.ok("ECHO y", 1.0, 3, now=recorder.due)
    assert entry.num_requests == 3


def test_each_protocol_has_its_own_row(recorder):
    recorder.ok("PING z", 1.0, 4, now=0.0)
    recorder.ok("PING z", 2.0, 4, now=0.0, method="HTTP")
    recorder.ok("PING z", 3.0, 4, now=0.0, method="HTTP")
    recorder.flush()
    stats = recorder.environment.stats
    assert stats.get("PING z", "RESP").num_requests == 1 and stats.get("PING z", "HTTP").num_requests == 2
    assert stats.get("PING z", "HTTP").max_response_time == 3.0 and stats.total.num_requests == 3
