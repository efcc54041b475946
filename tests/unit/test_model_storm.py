"""The accept-storm model: new connections simulated (connlab_model.storm) and read from,
checked against and predicted for a compare run (connlab_model.accepting)."""

import pytest
from connlab_compare import report, scenarios
from connlab_model import accepting, storm
from connlab_model.compared import BY_NAME
from test_experiments import point

MACHINE = {"cpus": 2, "server_cpus": "1", "settings": {}}


def capacity(design, cores, accept, serve, gil=True):
    return storm.capacity(BY_NAME[design], cores, accept, serve, gil=gil)


def test_one_loop_serves_what_its_core_can_do():
    assert capacity("single-thread", 1, 0.0, 200e-6) == pytest.approx(5000, rel=0.02)  # 200 µs a connection


def test_processes_scale_with_cores_and_threads_under_the_gil_do_not():
    one = capacity("single-thread", 1, 0.0, 200e-6)
    assert capacity("socket-sharding", 8, 0.0, 200e-6) == pytest.approx(8 * one, rel=0.05)  # a listener per process
    assert capacity("multi-acceptor/epoll", 8, 0.0, 200e-6) == pytest.approx(one, rel=0.05)  # eight loops, one GIL


def test_one_acceptor_caps_new_connections_where_the_threads_run_in_parallel():
    accept, serve = 50e-6, 150e-6
    # Free-threaded on 8 cores: the acceptor's 20,000/s, where the loops could take 53,000/s
    # and loops that accept themselves 40,000/s.
    assert capacity("single-acceptor/pool", 8, accept, serve, gil=False) == pytest.approx(1 / accept, rel=0.05)
    assert capacity("multi-acceptor/epoll", 8, 0.0, accept + serve, gil=False) == pytest.approx(8 / (accept + serve), rel=0.05)
    # Under the GIL the process's one interpreter is the limit for both.
    assert capacity("single-acceptor/pool", 8, accept, serve) == pytest.approx(1 / (accept + serve), rel=0.05)


def storm_point(design, x, rps, server_cpu, threads=None, client="locust", repeat=1, **extra):
    found = point(design, rps, f"connect, PING, close @ {x}/s" if x else "closed loop", x=x, scenario="accept-storm",
                  repeat=repeat, base="connect, PING, close", server_cpu=server_cpu, **extra)  # fmt: skip
    if threads is not None:
        found["metrics"]["threads"] = {role: {"cpu_ms": ms} for role, ms in threads.items()}
    found["client"] = client
    if client != "locust":
        found["metrics"]["sustained_rate"] = rps
    return found


@pytest.fixture(scope="module")
def accept_storm():
    return scenarios.load_all(["accept-storm"], quick=True)[0]


def test_inputs_split_each_connection_s_cpu_where_its_threads_spent_it(accept_storm):
    points = [storm_point("single-acceptor/pool", 500, 500, 0.1, {"other": 25, "event loops": 75}),
              storm_point("single-acceptor/pool", 1000, 1000, 0.15, {"other": 30, "event loops": 90}),
              storm_point("multi-acceptor/epoll", 1000, 1000, 0.2, {"other": 5, "event loops": 195}),
              storm_point("single-acceptor/per-connection", 1000, 1000, 0.3, {"other": 300}),  # threads unnamed
              storm_point("single-acceptor/steal", 1000, 1000, 0.3)]  # not traced  # fmt: skip
    found, why = accepting.inputs(points, accept_storm)
    accept, serve, step = found["single-acceptor/pool", "3.13", "resp"]
    assert (accept, serve) == pytest.approx((0.15 / 1000 * 0.25, 0.15 / 1000 * 0.75))  # the busiest point's figures
    assert step == "connect, PING, close @ 1000/s"
    assert found["multi-acceptor/epoll", "3.13", "resp"][:2] == pytest.approx((0.0, 200e-6))  # no acceptor: all serving
    assert set(why) == {("single-acceptor/per-connection", "3.13", "resp"), ("single-acceptor/steal", "3.13", "resp")}


def test_only_a_capacity_the_server_reached_is_judged_and_predicted(accept_storm, tmp_path):
    points = []
    for design in ("single-thread", "multi-acceptor/epoll"):  # 250 µs a connection: 4000/s at most on one core
        points += [storm_point(design, 1000, 1000, 0.25, {"event loops": 250}),
                   storm_point(design, None, 3900, 0.98, client="redis-benchmark")]  # fmt: skip
    points += [storm_point("socket-sharding", 1000, 1000, 0.25, {"event loops": 250}),
               storm_point("socket-sharding", None, 2500, 0.62, client="redis-benchmark")]  # the client's limit
    rows = {r["design"]: r for r in accepting.check(accept_storm, points, MACHINE, accepting.inputs(points, accept_storm)[0])}
    assert rows["single-thread"]["judged"] and abs(rows["single-thread"]["error"]) <= 0.15
    assert not rows["socket-sharding"]["judged"] and "62%" in rows["socket-sharding"]["bound"]
    section = accepting.section([accept_storm], {"points": points, "machine": MACHINE}, {}, tmp_path)
    text = report.markdown(section)
    assert "New connections, by the many-core model" in text and "1 not judged (†)" in text
    assert (tmp_path / "model-storm.png").read_bytes().startswith(b"\x89PNG")
    predicted = accepting.predict(accept_storm, list(rows.values()), accepting.inputs(points, accept_storm)[0])
    assert set(predicted) == {("single-thread", "3.13", "resp"), ("multi-acceptor/epoll", "3.13", "resp")}
    assert predicted["single-thread", "3.13", "resp"][64] == pytest.approx(predicted["single-thread", "3.13", "resp"][1], rel=0.1)
