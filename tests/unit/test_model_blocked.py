"""The blocked-worker model: where each design puts a new connection beside one whose
requests block their thread (connlab_model.blocked), checked against and predicted for
a compare run (connlab_model.tails)."""

import pytest
from connlab_compare import report, scenarios
from connlab_model import blocked, tails
from connlab_model.compared import BY_NAME
from test_experiments import point

from connlab.dispatcher import LOOK_EVERY, STEAL_AFTER

SLEEP = 0.1  # seconds each blocking request blocks
SERVE = 150e-6  # CPU per new connection


def tail(design, cores, **settings):
    return blocked.tail(BY_NAME[design], cores, 0.0, SERVE, blocked=SLEEP, **settings)


@pytest.mark.parametrize("design", ["multi-acceptor/epoll", "multi-acceptor/exclusive", "multi-acceptor/blocking",
                                    "single-acceptor/per-connection", "single-acceptor/least-connections",
                                    "message-balancing", "hybrid"])  # fmt: skip
def test_a_thread_that_is_waiting_takes_the_connection_not_the_blocked_one(design):
    # p99: a few services at most. (One that arrives in the moment between two SLEEPs may
    # land on the blocked thread, waiting then: EPOLLEXCLUSIVE wakes the last to wait.)
    assert tail(design, 1, workers=4).p99_ms < 2.0


def test_two_choices_look_at_load_when_they_hand_over_so_a_few_land_behind_the_sleep():
    # Between two of its SLEEPs the blocked loop's load is its one connection: a tie with a
    # loop serving one, and ties go to the first picked (dispatcher.py, as HAProxy's).
    found = tail("single-acceptor/two-choices", 1, workers=4)
    assert found.p99_ms < 2.0 and found.max_ms > 10 * found.p99_ms


def test_a_thread_per_connection_with_every_thread_blocked_never_answers():
    assert tail("multi-acceptor/blocking", 1, workers=1) == (float("inf"), float("inf"))


def test_one_loop_makes_every_new_connection_wait_out_the_sleep_and_the_next():
    # Opened when the SLEEP ends, read on a later turn: after the blocked connection's next
    # request, which its client sent meanwhile.
    found = tail("single-thread", 1)
    assert SLEEP * 1000 * 1.9 < found.p99_ms <= found.max_ms < SLEEP * 1000 * 2.1


@pytest.mark.parametrize("design", ["single-acceptor/pool", "socket-sharding"])
def test_by_turn_or_by_hash_the_blocked_thread_gets_its_share_and_its_share_waits(design):
    # 16 loops (or processes): a sixteenth of the connections land on the blocked one and wait
    # out what is left of its SLEEP, uniform over it, and the next: P(wait > SLEEP + x) =
    # (1 - x / SLEEP) / 16, which is 1 % at x = 0.84 SLEEP.
    assert tail(design, 16).p99_ms == pytest.approx(1.84 * SLEEP * 1000, abs=6)
    assert tail(design, 4, workers=4, processes=4).p99_ms == pytest.approx(1.96 * SLEEP * 1000, abs=3)


def test_stealing_bounds_the_wait_by_how_long_a_loop_must_be_busy():
    # A quarter land on the blocked loop; those handed over in a SLEEP's first STEAL_AFTER
    # wait for it to pass (and one opened between two SLEEPs waits out the next: the max).
    found = tail("single-acceptor/steal", 1, workers=4)
    assert 1.0 < found.p99_ms < (STEAL_AFTER + 2 * LOOK_EVERY) * 1000 + 1


def test_users_who_open_one_connection_at_a_time_fall_behind_where_each_waits_longer_than_their_turn():
    # Ten users at 100/s: each opens one every 100 ms. Behind one loop's two SLEEPs each
    # takes 200 ms: a user falls a further 100 ms behind its schedule with every one, and the
    # tail is the backlog at the end, growing with the run (Locust's users; open arrivals
    # each on their own wait two SLEEPs at most).
    short, long = (tail("single-thread", 1, users=10, window=(1.0, seconds)).p99_ms for seconds in (2.0, 5.0))
    assert 2 * SLEEP * 1000 < short < long and long - short == pytest.approx(0.5 * 3000, rel=0.2)
    # Where no connection waits behind the SLEEP, users keep to their schedule.
    assert tail("multi-acceptor/epoll", 1, workers=4, users=10, window=(1.0, 5.0)).p99_ms < 2.0


def test_steering_by_cpu_is_not_placed():
    assert "interrupts" in blocked.unmodelled(BY_NAME["socket-sharding/cpu"])
    assert blocked.unmodelled(BY_NAME["socket-sharding/random"]) is None


@pytest.fixture(scope="module")
def blocked_worker():
    return scenarios.load_all(["blocked-worker"], quick=True)[0]


def blocked_point(design, p99_ms, max_ms, server_cpu=0.02, rps=100.0, **extra):
    found = point(design, rps, blocked_worker_step(), scenario="blocked-worker", server_cpu=server_cpu, **extra)
    found["metrics"].update(p99_ms=p99_ms, max_ms=max_ms)
    return found


def blocked_worker_step():
    return scenarios.load_all(["blocked-worker"], quick=True)[0].steps[0].label


def test_the_step_is_read_as_its_rate_beside_its_blocking(blocked_worker):
    assert tails.load_of(blocked_worker.steps[0]) == (100.0, 0.1, 10)


def test_rows_are_checked_by_p99_and_only_those_within_it_predicted(blocked_worker, tmp_path):
    points = [blocked_point("single-acceptor/pool", 500.0, 650.0), blocked_point("socket-sharding", 600.0, 800.0),
              blocked_point("multi-acceptor/epoll", 0.5, 1.2), blocked_point("message-balancing", 0.4, 0.9),
              blocked_point("multi-acceptor/exclusive", 0.5, 1.0), blocked_point("multi-acceptor/blocking", 0.5, 1.0),
              blocked_point("single-thread", 5.0, 110.0),  # far from the model's two SLEEPs: a miss
              blocked_point("socket-sharding/cpu", 3.0, 99.0)]  # fmt: skip
    machine = {"cpus": 2, "server_cpus": "1", "settings": {}, "quick": True}
    rows, why = tails.check(blocked_worker, points, machine)
    by_design = {r["design"]: r for r in rows}
    assert by_design["single-acceptor/pool"]["serve_us"] == pytest.approx(200)  # 0.02 CPU over 100 connections/s
    assert tails.within(by_design["single-acceptor/pool"]) and not tails.within(by_design["single-thread"])
    assert set(why) == {("socket-sharding/cpu", "3.13", "resp")}
    predicted = tails.predict(blocked_worker, machine, rows)
    assert ("single-thread", "3.13", "resp") not in predicted
    pool = predicted["single-acceptor/pool", "3.13", "resp"]
    assert pool[64].p99_ms < pool[4].p99_ms  # the blocked loop's share falls with the loops
    section = tails.section([blocked_worker], {"points": points, "machine": machine}, {}, tmp_path)
    text = report.markdown(section)
    assert "A blocked worker, by the many-core model" in text and "single-thread (3.13, resp): p99" in text
    assert "steering by the CPU" in text and (tmp_path / "model-blocked.png").read_bytes().startswith(b"\x89PNG")
    [verdict] = [v for v in tails.verdicts(blocked_worker, predicted, {}) if v[0].startswith("With a queue")]
    assert verdict[-1] == "yes"  # by turn and by hash wait behind the SLEEP at 64 cores too, for max
