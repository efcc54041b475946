"""The many-core model against a compare run (connlab_model.compared): its inputs read
from the run, its check, its predictions and the report's section."""

import pytest
from connlab_compare import report, scenarios
from connlab_model import compared
from connlab_model.wiring import Load, simulate
from test_experiments import point

MACHINE = {"cpus": 2, "server_cpus": "1", "settings": {}}
OVERHEAD = 50e-6  # the CPU per request beyond the command that the points below were made with
CPU_BOUND = "WORK 200us @ 16 users"  # cpu-bound's step: WORK's input


@pytest.fixture(scope="module")
def chosen():
    return scenarios.load_all(["cpu-bound", "cpu-scaling", "throughput"], quick=True)


def measured(design, step, scenario, rps, p99, server_cpu=None, bound=False, python="3.13"):
    return [point(design, rps, step, scenario=scenario, python=python, repeat=repeat, bound=bound, protocol="http",
                  p99_ms=p99, server_cpu=server_cpu) for repeat in (1, 2)]  # fmt: skip


def run(design="single-thread", scale=1.0, p99_scale=1.0):
    """Points of `design` as the model itself gives them with OVERHEAD (cpu-scaling's
    requests/s times `scale`); cpu-bound's WORK, its input; throughput's PING and ECHO,
    their inputs, bound by their client."""
    from connlab_model.compared import BY_NAME

    points = measured(design, CPU_BOUND, "cpu-bound", 1 / (200e-6 + OVERHEAD), 4.0, server_cpu=1.0)
    points += measured(design, "PING @ 64 users", "throughput", 0.9 / OVERHEAD, 9.0, server_cpu=0.9, bound=True)
    points += measured(design, "ECHO 1 KiB @ 64 users", "throughput", 9000, 9.0, bound=True)
    for users in (1, 2, 8):
        model = simulate(BY_NAME[design], 2, Load(work=0.005), OVERHEAD, connections=users, requests=1000, warmup=125)
        points += measured(design, f"WORK 5000us @ {users} users", "cpu-scaling", model.rps * scale,
                           model.p99_ms * p99_scale)
    return points


def test_the_cost_per_request_is_the_servers_cpu_per_request_less_what_the_command_computes(chosen):
    points = measured("single-thread", CPU_BOUND, "cpu-bound", 4000, 4.0, server_cpu=1.0)
    points += measured("single-thread", "PING @ 64 users", "throughput", 40000, 4.0, server_cpu=0.9, bound=True)
    found = compared.costs(compared.steps(chosen, MACHINE), points)
    overhead, source = found["single-thread", "3.13", "http", "PING"]
    assert overhead == pytest.approx(0.9 / 40000)  # its client was the limit: the server's CPU says what it cost
    assert source == "throughput · PING @ 64 users"
    overhead, source = found["single-thread", "3.13", "http", "WORK"]
    assert overhead == pytest.approx(1 / 4000 - 200e-6)  # a request took 250 µs of CPU, 200 of them WORK's own
    assert source == f"cpu-bound · {CPU_BOUND}"
    assert ("single-thread", "3.13", "http", "ECHO") not in found  # no ECHO measured: no ECHO input


def test_steps_the_model_cannot_say_are_left_out(chosen):
    said = {said.step.label: said.cpus for said in compared.steps(chosen, MACHINE)}
    assert "PING, pipeline 16 @ 64 users" not in said
    assert said["WORK 5000us @ 8 users"] == 2 and said["WORK 200us @ 16 users"] == 1  # server_cpus = "all": every CPU


def test_a_design_the_model_matches_gets_predictions_and_one_it_misses_gets_none(chosen, tmp_path):
    points = run("single-thread", p99_scale=5.0) + run("socket-sharding", scale=3.0)
    rows = compared.check(chosen, points, MACHINE, requests=1000)
    mine = {(r["design"], r["step"]): r for r in rows}
    assert mine["single-thread", "PING @ 64 users"]["input"] and mine["single-thread", CPU_BOUND]["input"]
    assert mine["single-thread", "WORK 5000us @ 8 users"]["judged"]  # on both CPUs, with WORK's input
    judged = [r for r in rows if r["design"] == "single-thread" and r["judged"]]
    assert judged and all(compared.misses(r) == [f"p99 {r['p99_ratio']:.2f}×"] for r in judged)  # 5× the model's p99
    predictions, missed = compared.predict(chosen, points, MACHINE, rows, requests=1000)
    # A p99 the model misses leaves its requests/s prediction standing: it predicts no latency.
    assert ("single-thread", "3.13", "http", "WORK 5000us") in predictions
    assert ("socket-sharding", "3.13", "http") in missed and ("single-thread", "3.13", "http") not in missed
    one_loop = predictions["single-thread", "3.13", "http", "WORK 5000us"]
    assert one_loop[64] == pytest.approx(one_loop[1], rel=0.05)  # one loop computes on one core however many there are
    row, why = missed["socket-sharding", "3.13", "http"]
    assert why[0].startswith("requests/s -")  # measured 3× what the model gives
    # cpu-scaling's control, by the model: one thread computes on one core at 64 cores too.
    control = [v for v in compared.model_verdicts(chosen, predictions, {}) if v[1] == "single-thread"]
    assert [v[0].startswith("One thread computes") and v[4] == "–" and v[-1] for v in control] == ["yes"]

    section = compared.section(chosen, {"points": points, "machine": MACHINE}, tmp_path)
    assert (tmp_path / "model.png").read_bytes().startswith(b"\x89PNG")
    text = report.markdown(section)
    assert "The many-core model against this run" in text and "socket-sharding (3.13, http)" in text
