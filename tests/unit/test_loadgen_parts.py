"""Unit tests of the load generator's parts: the mix, bucketing, pacing (RESP: test_loadgen_resp.py)."""

import pytest
from locust import stats

from connlab_loadgen import precision, schedule
from connlab_loadgen.options import Mix
from connlab_loadgen.commands import Command
from connlab_loadgen.users import parse_host


def test_commands_name_their_argument():
    assert Command.echo(64).name == "ECHO 64B" and Command.echo(64).expected == b"x" * 64
    assert Command.work(100).name == "WORK 100us"
    assert Command.sleep(5).name == "SLEEP 5ms"


def test_mix_keeps_positive_weights_and_picks_by_them():
    mix = Mix.parse("PING:3, echo:1, WORK:0", echo_bytes=8)
    assert [c.name for c in mix.commands] == ["PING", "ECHO 8B"]
    commands, wire = mix.pick(4000)
    picks = [c.name for c in commands]
    share = picks.count("PING") / len(picks)
    assert 0.7 < share < 0.8  # 3:1 -> 0.75; bounds are > 10 standard deviations wide
    assert wire == b"".join(c.wire for c in commands)


def test_a_one_command_mix_is_encoded_once():
    mix = Mix.parse("ECHO:1", echo_bytes=3)
    first, again = mix.pick(16), mix.pick(16)
    assert first is again and first[1] == Command.echo(3).wire * 16 and len(first[0]) == 16


@pytest.mark.parametrize("text", ["PING:1,FLUSHALL:1", "PING:0", "", "PING:-1"])
def test_mix_rejects_bad_input(text):
    with pytest.raises(ValueError):
        Mix.parse(text)


def test_parse_host():
    assert parse_host("tcp://multi-acceptor:7000") == ("multi-acceptor", 7000)
    assert parse_host("hybrid") == ("hybrid", 7000)
    with pytest.raises(ValueError):
        parse_host("http://x:1")


def test_sub_millisecond_latencies_survive_locust_bucketing():
    precision.install()
    entry = stats.RequestStats().get("PING", "RESP")
    for response_time in (0.31, 0.3, 0.29, 0.3, 0.3):
        entry.log(response_time, 0)
    assert entry.get_response_time_percentile(0.5) == pytest.approx(0.3)
    assert 0.29 <= entry.min_response_time < 0.3
    assert "0.300" in precision.table(entry.stats)
    shown = entry.to_dict()  # what the web UI gets
    assert shown["min_response_time"] == pytest.approx(0.29) and shown["median_response_time"] == pytest.approx(0.3)


def test_bucketing_keeps_two_significant_digits():
    assert precision.bucket_response_time(0.347) == pytest.approx(0.35)
    assert precision.bucket_response_time(4.26) == pytest.approx(4.3)
    assert precision.bucket_response_time(147) == 150


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_pacer_schedules_fixed_intervals_and_counts_late_sends(monkeypatch):
    monkeypatch.setattr(schedule.random, "uniform", lambda a, b: 0.0)
    clock = FakeClock()
    pacer = schedule.Pacer(0.01, clock=clock, sleep=clock.sleep)
    schedule.COUNTS.take()
    assert pacer.wait() == pytest.approx(100.0)  # due now: no sleep
    assert pacer.wait() == pytest.approx(100.01) and clock.slept == [pytest.approx(0.01)]
    clock.now += 0.05  # a reply stalled for 50 ms
    # The next sends keep their due times (latency counts from them) and go late.
    assert pacer.wait() == pytest.approx(100.02)
    assert pacer.wait() == pytest.approx(100.03)
    assert schedule.COUNTS.take() == (4, 2)


def test_user_interval_splits_the_rate_over_users():
    assert schedule.user_interval(rate=1000, users=10, batch=1) == pytest.approx(0.01)
    assert schedule.user_interval(rate=1000, users=10, batch=16) == pytest.approx(0.16)


def test_the_stats_history_as_csv():
    from connlab_loadgen.webui import history_text

    history = [{"time": "t1", "current_rps": ["t1", 10.5], "user_count": ["t1", 4]},
               {"time": "t2", "current_rps": ["t2", 12.0], "user_count": ["t2", 4], "response_time_percentile_0.95": ["t2", 3]}]  # fmt: skip
    assert history_text(history).splitlines() == [
        "time,current_rps,user_count,response_time_percentile_0.95", "t1,10.5,4,", "t2,12.0,4,3"]
    assert history_text([]).splitlines() == ["time"]
