"""make compare's parts on constructed data: the scenario files, the verdicts, the
figures the servers' metrics give, and a report whose plots are real PNGs."""

import json
from pathlib import Path

import jsonschema
import matplotlib.image
import pytest

from connlab.config import variants
from connlab_compare import (journal, measure, plots, reference_client, report, runner, scenarios, schedstat,
                             targets, theory, verdict)

REFERENCE = targets.get("redis")

REDIS = REFERENCE.name
KNOWN = {*variants(), REDIS}


def point(arch, value, step="s", x=None, bound=False, scenario="demo", python="3.13", repeat=1, base=None,
          protocol="resp", **extra):
    metrics = {"rps": value, "p50_ms": value / 2, "p99_ms": value, "p999_ms": value, "max_ms": value, "errors": 0,
               "loadgen_cpu": 95.0 if bound else 40.0, "loadgen_bound": bound,
               "histogram": {f"{value / 2:g}": 98, f"{value:g}": 2}, **extra}  # fmt: skip
    return {"scenario": scenario, "target": arch, "python": python, "protocol": protocol, "step": step,
            "base": base or step, "x": x, "repeat": repeat, "client": "locust", "metrics": metrics}  # fmt: skip


@pytest.mark.parametrize("quick", [True, False])
def test_every_scenario_file_loads_and_names_real_architectures(quick):
    loaded = scenarios.load_all(quick=quick)
    assert {s.name for s in loaded} >= {"throughput", "cpu-bound", "head-of-line", "blocked-worker",
                                        "accept-storm", "spread", "idle-connections"}  # fmt: skip
    for scenario in loaded:
        assert scenario.steps and scenario.predictions, scenario.name
        for prediction in scenario.predictions:
            named = {*prediction.get("better", []), *prediction.get("worse", []), *prediction.get("similar", [])}
            assert named <= KNOWN, (scenario.name, named - KNOWN)


def test_a_bad_scenario_says_what_is_wrong(tmp_path):
    (tmp_path / "bad.toml").write_text('title = "t"\ndescription = "d"\nlook_for = "l"\nmeasure = ["PING"]\n'
                                       'headline = "rps"\n[[steps]]\nlabel = "x"\nsweep = { bogus = [1] }\n')
    with pytest.raises(scenarios.ScenarioError, match="sweep over 'users' or 'rate'"):
        scenarios.load_all(directory=tmp_path)
    with pytest.raises(scenarios.ScenarioError, match="unknown scenario"):
        scenarios.load_all(["nope"], directory=tmp_path)


LOWER = {"claim": "c", "source": "s", "metric": "p99_ms", "better": ["a", "b"], "worse": ["c"]}


def rounds(*per_arch):
    """{arch: {repeat: value}} from {arch: [value in round 1, round 2, ...]}."""
    return {arch: dict(enumerate(found, 1)) for arch, found in dict(*per_arch).items()}


@pytest.mark.parametrize("found, expected", [
    ({"a": [1.0, 1.1, 0.9], "b": [2.0, 2.2, 1.8], "c": [10.0, 9.0, 12.0]}, "yes"),  # clear: every round ≥ 5×
    ({"a": [1.0, 1.0, 1.0], "b": [2.0, 2.0, 2.0], "c": [1.5, 1.4, 1.6]}, "no"),     # no round reaches the margin
    ({"a": [10.0, 9.0], "b": [9.0, 9.5], "c": [1.0, 1.1]}, "no"),                   # the opposite
    ({"a": [1.0, 1.0, 1.0], "b": [1.0, 1.0, 1.0], "c": [1.1, 1.35, 1.25]}, "inconclusive"),  # inside the noise
    ({"a": [1.0], "b": [1.0], "c": [9.0]}, "inconclusive"),                         # one round: no interval
])  # fmt: skip
def test_the_verdict_reads_the_interval_of_the_rounds(found, expected):
    judged = verdict.judge(LOWER, rounds(found))
    assert judged["verdict"] == expected
    assert judged["low"] <= judged["ratio"] <= judged["high"] and judged["rounds"] == len(found["a"])


@pytest.mark.parametrize("c, expected", [
    ([1.5, 1.5], "yes"),                      # two rounds that agree decide, as they always did
    ([1.5, 1.1, 1.5], "inconclusive"),        # two to one: not decided
    ([1.5, 1.1, 1.5, 1.5], "yes"),            # three to one: a further round decided it
    ([1.5, 1.1, 1.5, 1.1, 1.5], "inconclusive"),
    ([1.1, 1.5, 1.1, 1.1], "no"),
])  # fmt: skip
def test_further_rounds_decide_when_one_side_leads_by_two(c, expected):
    found = {"a": [1.0] * len(c), "b": [1.0] * len(c), "c": c}
    judged = verdict.judge(LOWER, rounds(found))
    assert judged["verdict"] == expected and judged["cleared"] == sum(r >= 1.2 for r in c)
    assert f"{judged['cleared']} of them clearing the margin" in judged["measured"]


def test_a_noisy_point_and_one_below_saturation_are_no_evidence():
    demo = scenarios.Scenario("demo", "t", "d", "l", ["PING"], "rps", [scenarios.Step("s", "s", None, [])], [])
    points = [point("a", 10, repeat=1, server_cpu=0.97), point("a", 99, repeat=2, noisy=True, server_cpu=0.97),
              point("a", 30, repeat=3, server_cpu=0.6),
              point("a", 20, repeat=4, server_cpu=0.74, noise=0.27)]  # all that noise left it: busy  # fmt: skip
    chosen = verdict.at_step(points, demo, {"metric": "rps", "step": "s"}, "3.13", "locust")
    found, bound, left_out = verdict.values(chosen, "rps", busy=0.9)
    assert found == {"a": {1: 10, 4: 20}} and not bound
    assert left_out == ["a round 2: noisy", "a round 3: the server used 0.60 CPU, under 0.9"]
    assert verdict.values(chosen, "rps")[0] == {"a": {1: 10, 3: 30, 4: 20}}  # without `busy`, saturation is not asked


def test_an_inconclusive_row_reads_every_design_it_names():
    scenario = scenarios.load_all(["cpu-scaling"], quick=True)[0]
    rows = verdict.verdicts([scenario], [], ["3.13", "3.13t"], lambda python: {})
    across = next(r for r in rows if r["python"] == "3.13 → 3.13t")
    assert verdict.reads(across, scenario) == [(across["design"], "3.13"), (across["design"], "3.13t")]
    throughput = scenarios.load_all(["throughput"], quick=True)[0]
    row = {"scenario": "throughput", "python": "3.13t", "claim": throughput.predictions[1]["claim"]}
    assert verdict.reads(row, throughput) == [("single-thread", "3.13t"), ("message-balancing", "3.13t"),
                                              ("hybrid", "3.13t")]  # fmt: skip


def test_the_ratio_is_paired_within_a_round():
    # Round 2 ran on a slow machine: every design twice as slow. Paired, the ratio holds.
    judged = verdict.judge(LOWER, rounds({"a": [1.0, 2.0], "b": [1.0, 2.0], "c": [1.5, 3.0]}))
    assert judged["verdict"] == "yes" and judged["low"] == judged["high"] == 1.5


def test_a_bimodal_design_is_inconclusive_and_its_outcomes_counted():
    # As socket-sharding in blocked-worker: the slow connections hash to the sleeping
    # process in some repetitions only.
    found = {"a": [10.0, 11.0, 10.0, 9.0], "b": [10.0, 10.0, 11.0, 10.0], "c": [180.0, 11.0, 600.0, 10.5]}
    judged = verdict.judge(LOWER, rounds(found))
    assert judged["verdict"] == "inconclusive" and judged["high"] > 10 > 1.2 > judged["low"]
    assert verdict.outcomes(found["c"]) == [(2, 10.75), (2, 390.0)]
    assert verdict.outcomes(found["a"]) is None  # noise, not two outcomes


def test_higher_is_better_and_similar():
    higher = {**LOWER, "metric": "rps", "higher_is_better": True}
    assert verdict.judge(higher, rounds({"a": [1000, 990], "b": [900, 950], "c": [100, 120]}))["verdict"] == "yes"
    similar = {"claim": "c", "source": "s", "metric": "rps", "similar": ["a", "b", "c"]}
    assert verdict.judge(similar, rounds({"a": [100, 99], "b": [110, 104], "c": [105, 100]}))["verdict"] == "yes"
    assert verdict.judge(similar, rounds({"a": [100, 98], "b": [200, 210], "c": [105, 100]}))["verdict"] == "no"
    assert verdict.judge(similar, rounds({"a": [100, 98], "b": [110, 150], "c": [105, 100]}))["verdict"] == "inconclusive"


def test_similar_above_one_design_is_one_sided():
    above = {"claim": "c", "source": "s", "metric": "rps", "similar": ["a", "b", "c"], "above": "a",
             "higher_is_better": True}  # fmt: skip
    fell_behind = rounds({"a": [100, 100], "b": [80, 75], "c": [70, 90]})  # 1.4× apart, none above a
    assert verdict.judge(above, fell_behind)["verdict"] == "yes"
    assert verdict.judge(above, fell_behind)["ratio"] == pytest.approx(0.85)  # the best of b and c over a: 0.8, 0.9
    both_ways = {k: v for k, v in above.items() if k != "above"}
    assert verdict.judge(both_ways, fell_behind)["verdict"] == "no"  # the two-sided test fails them
    rose = rounds({"a": [100, 100], "b": [130, 125], "c": [70, 90]})
    judged = verdict.judge(above, rose)
    assert judged["verdict"] == "no" and "the best above a by 1.27×" in judged["measured"]


def test_a_missing_design_is_not_comparable():
    judged = verdict.judge(LOWER, rounds({"a": [1.0, 1.0], "b": [2.0, 2.0]}))
    assert judged["verdict"] == "not comparable" and "c not measured" in judged["measured"]


def test_locust_bound_falls_back_to_the_c_client():
    demo = scenarios.Scenario("demo", "t", "d", "l", ["PING"], "rps", [scenarios.Step("s @ 8 users", "s", 8, [])],
                              [{**LOWER, "metric": "rps", "higher_is_better": True}])  # fmt: skip
    points = []
    for r in (1, 2):
        for arch, rps in (("a", 30_000), ("b", 29_000), ("c", 10_000)):
            points.append(point(arch, 12_000, "s @ 8 users", 8, base="s", repeat=r, bound=True, scenario="demo"))
            points.append({**point(arch, rps + r, "s @ 8 users", 8, base="s", repeat=r, scenario="demo"),
                           "client": "redis-benchmark"})  # fmt: skip
    (row,) = verdict.verdicts([demo], points, ["3.13"], lambda python: {})
    assert row["verdict"] == "yes" and row["client"] == "redis-benchmark"
    assert "the fastest client at this step" in row["measured"]
    for p in points:
        p["metrics"]["loadgen_bound"] = True
    (row,) = verdict.verdicts([demo], points, ["3.13"], lambda python: {})
    assert row["verdict"] == "not comparable"


def test_the_prediction_reads_the_last_step_of_the_sweep():
    demo = scenarios.Scenario("demo", "t", "d", "l", ["PING"], "rps",
                              [scenarios.Step("s @ 1 users", "s", 1, []), scenarios.Step("s @ 8 users", "s", 8, [])], [])
    points = [point("a", v, "s @ 8 users", 8, base="s", repeat=r) for r, v in ((1, 10), (2, 30), (3, 20))]
    points.append(point("a", 999, "s @ 1 users", 1, base="s"))
    chosen = verdict.at_step(points, demo, {"metric": "rps", "step": "s"}, "3.13", "locust")
    assert verdict.values(chosen, "rps") == ({"a": {1: 10, 2: 30, 3: 20}}, False, [])


def test_sustained_rate_interpolates_the_knee():
    sweep = [point("a", 1, x=rate) for rate in (250, 1000, 2000, 4000)]
    sweep[1]["metrics"]["p99_ms"] = 5
    sweep[2]["metrics"]["p99_ms"] = 25  # the knee (10 ms) is a quarter of the way from 1000/s to 2000/s
    assert measure.sustained_rate(sweep, knee_ms=10) == 1250
    sweep[2]["metrics"].update(p99_ms=5, errors=3)  # failed by errors alone: half way
    assert measure.sustained_rate(sweep, knee_ms=10) == 1500
    sweep[0]["metrics"]["p99_ms"] = 50
    assert measure.sustained_rate(sweep, knee_ms=10) == 0
    assert measure.sustained_rate([point("a", 1, x=rate) for rate in (250, 500)], knee_ms=10) == 500


def test_a_knee_read_across_a_noisy_step_is_noisy():
    storm = scenarios.load_all(["accept-storm"], quick=True)[0]
    sweep = [point("a", 5.0, f"connect, PING, close @ {rate}/s", rate, base="connect, PING, close", scenario="accept-storm")
             for rate in (500, 1000, 2000)]  # fmt: skip
    sweep[0]["metrics"].update(p99_ms=80.0, noisy=True)  # failed its lowest rate while a neighbour took the CPU
    measure.derive(sweep, [storm])
    assert sweep[2]["metrics"]["sustained_rate"] == 0 and sweep[2]["metrics"]["noisy"]
    quiet = [point("a", 5.0, f"connect, PING, close @ {rate}/s", rate, base="connect, PING, close", scenario="accept-storm")
             for rate in (500, 1000, 2000)]  # fmt: skip
    measure.derive(quiet, [storm])
    assert "noisy" not in quiet[2]["metrics"]


def test_a_sweep_whose_knee_lies_beyond_it_is_judged_on_the_c_client():
    storm = scenarios.load_all(["accept-storm"], quick=True)[0]
    prediction = storm.predictions[0]
    points = []
    for r in (1, 2):
        for arch in (*prediction["better"], *prediction["worse"]):
            for rate in (500, 1000, 2000):  # every design kept up at every rate: the knees are not in the sweep
                points.append(point(arch, 5.0, f"connect, PING, close @ {rate}/s", rate, base="connect, PING, close",
                                    scenario="accept-storm", repeat=r))  # fmt: skip
            capacity = 4000 if arch in prediction["better"] else 2500  # what the closed loop of new connections served
            points.append({**point(arch, capacity, "connect, PING, close: closed loop, 50 connections", base="connect, PING, close",
                                   scenario="accept-storm", repeat=r), "client": "redis-benchmark"})  # fmt: skip
    measure.derive(points, [storm])
    (row,) = verdict.verdicts([storm], points, ["3.13"], lambda python: {})
    assert row["client"] == "redis-benchmark" and row["verdict"] == "yes" and row["ratio"] == pytest.approx(1.6)


def test_a_client_far_below_the_other_at_the_same_closed_loop_step_is_bound_whatever_its_cpu():
    locust = point("a", 10_000, "s")  # 40 % CPU: a closed loop waits on its client all the same
    c = {**point("a", 30_000, "s"), "client": "redis-benchmark"}
    reference_client.mark_lagging([locust, c])
    assert locust["metrics"]["loadgen_bound"] and "0.33× redis-benchmark's rate" in locust["metrics"]["bound_by"]
    assert not c["metrics"]["loadgen_bound"]
    close = point("a", 25_000, "s")  # 0.83×: within what two clients' own costs differ by
    reference_client.mark_lagging([close, {**point("a", 30_000, "s"), "client": "redis-benchmark"}])
    assert not close["metrics"]["loadgen_bound"]
    slow_c = {**point("a", 7_000, "s"), "client": "redis-benchmark"}  # the rule holds both ways
    fast = point("a", 10_000, "s")
    reference_client.mark_lagging([fast, slow_c])
    assert slow_c["metrics"]["loadgen_bound"] and not fast["metrics"]["loadgen_bound"]
    other_step = {**point("a", 30_000, "t"), "client": "redis-benchmark"}  # no twin: nothing to read against
    lone = point("a", 10_000, "s")
    reference_client.mark_lagging([lone, other_step])
    assert not lone["metrics"]["loadgen_bound"]


def test_throughput_verdicts_read_the_fastest_client_and_say_which():
    demo = scenarios.Scenario("demo", "t", "d", "l", ["PING"], "rps", [scenarios.Step("s @ 64 users", "s", 64, [])],
                              [{**LOWER, "metric": "rps", "higher_is_better": True}])  # fmt: skip
    points = []
    for r in (1, 2):  # Locust within 0.8× of the C client (not bound), but its ranking is its own
        for arch, locust, c in (("a", 25_000, 30_000), ("b", 24_000, 29_000), ("c", 21_000, 10_000)):
            points.append(point(arch, locust, "s @ 64 users", 64, base="s", repeat=r, scenario="demo"))
            points.append({**point(arch, c, "s @ 64 users", 64, base="s", repeat=r, scenario="demo"),
                           "client": "redis-benchmark"})  # fmt: skip
    (row,) = verdict.verdicts([demo], points, ["3.13"], lambda python: {})
    assert row["client"] == "redis-benchmark" and row["verdict"] == "yes"
    assert "the fastest client at this step" in row["measured"]
    latency = {**LOWER, "metric": "p99_ms"}  # latency: Locust's points first, as before
    assert verdict.clients_for(points, demo, latency, "3.13") == ("locust", "redis-benchmark")


def metrics_text(requests, workers):
    lines = ["# TYPE connlab_workers gauge", "# TYPE connlab_worker_requests_total counter"]
    lines += [f'connlab_workers{{arch="x",worker="{w}",role="reader-executor"}} 1' for w in workers]
    lines += [f'connlab_worker_requests_total{{arch="x",worker="{w}"}} {n}' for w, n in requests.items()]
    return "\n".join(lines) + "\n"


def test_spread_counts_the_idle_workers():
    before = metrics_text({"0": 10}, ["0", "1", "2", "3"])
    after = metrics_text({"0": 410, "1": 100}, ["0", "1", "2", "3"])  # workers 2 and 3 served nothing
    figures = measure.spread(before, after)
    assert figures["per_worker_requests"] == {"0": 400, "1": 100, "2": 0, "3": 0}
    assert figures["cv_requests"] == pytest.approx(1.311, rel=0.01)  # pstdev 163.9 / mean 125
    assert figures["max_min_requests"] is None  # a worker with nothing: no finite ratio


def test_resources_per_connection():
    baseline = {"memory": 10_000_000, "threads": 3, "fds": 20}
    held = {"memory": 30_000_000, "threads": 1003, "fds": 1020}
    assert measure.per_connection(baseline, held, 1000) == {
        "memory_per_connection": 20_000, "threads_per_connection": 1.0, "fds_per_connection": 1.0}
    info = "$40\r\n# Memory\r\nused_memory_rss:123456\r\n"
    assert measure.server_resources(info, from_metrics=False) == {"memory": 123456.0, "threads": None, "fds": None}


def constructed_results():
    archs = ["single-thread", "message-balancing", REDIS]
    points = []
    for repeat in (1, 2):
        for i, arch in enumerate(archs):
            python = "C" if arch == REDIS else "3.13"
            for users in (8, 64):
                points.append(point(arch, 1000.0 * (i + 1) * users / 8 + repeat, f"PING @ {users} users", users,
                                    scenario="throughput", python=python, repeat=repeat, base="PING",
                                    bound=(arch == REDIS and users == 64)))
            served = {} if arch == REDIS else {"served": {"PING": [1000.0, 0.00002], "SLEEP": [40.0, 0.05]}}
            points.append(point(arch, 2.0 + i + repeat, "PING 1000/s with SLEEP 50ms", scenario="head-of-line",
                                python=python, repeat=repeat, **served))
    machine = {"hostname": "h", "kernel": "k", "cpu_model": "cpu", "cpus": 2, "server_cpus": "1", "loadgen_cpus": "0",
               "docker": "28", "images": {"connlab/server:latest": "sha256:0123456789abcdef0123"},
               "pythons": ["3.13"], "python_versions": {"3.13": "Python 3.13.5, GIL enabled", "C": "redis-server (C)"},
               "quick": False, "repeat": 2, "scenarios": ["throughput", "head-of-line"]}  # fmt: skip
    chosen = scenarios.load_all(["throughput", "head-of-line"], quick=True)
    results = {"schema": journal.SCHEMA, "started": "2026-11-27 12:00 UTC", "finished": "2026-11-27 12:10 UTC", "partial": None,
               "machine": machine, "points": points}  # fmt: skip
    results["verdicts"] = verdict.verdicts(chosen, points, ["3.13"], lambda python: {})
    return results, chosen


def test_report_files_validate_and_plots_are_real_pngs(tmp_path):
    results, chosen = constructed_results()
    jsonschema.validate(results, report.schema())
    report.write(tmp_path, results, chosen)
    assert json.loads((tmp_path / "results.json").read_text()) == results
    pngs = sorted(tmp_path.glob("*.png"))
    assert {p.name for p in pngs} >= {"throughput.png", "head-of-line.png", "p99-by-architecture.png",
                                      "throughput-spectrum.png", "head-of-line-spectrum.png"}  # fmt: skip
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        pixels = matplotlib.image.imread(png)
        assert pixels.shape[0] > 300 and pixels.shape[1] > 400
        assert pixels.std() > 0.05, f"{png.name} is (nearly) blank"
    markdown = (tmp_path / "report.md").read_text()
    assert "What the literature predicts" in markdown and "![" in markdown and "†" in markdown
    assert "| PING 1000/s with SLEEP 50ms | PING | one shared queue (M/M/4) |" in markdown  # theory beside it
    page = (tmp_path / "index.html").read_text()
    assert page.count("data:image/png;base64,") == len(pngs) and "<table>" in page


def test_schema_rejects_a_point_without_its_figures():
    results, _ = constructed_results()
    del results["points"][0]["metrics"]["p99_ms"]
    with pytest.raises(jsonschema.ValidationError, match="p99_ms"):
        jsonschema.validate(results, report.schema())


def test_a_partial_report_says_so(tmp_path):
    results, chosen = constructed_results()
    results["partial"] = "3 of 9 cells not measured"
    report.write(tmp_path, results, chosen)
    assert "PARTIAL REPORT: 3 of 9 cells not measured" in (tmp_path / "report.md").read_text()


def test_the_journal_keeps_every_point_and_knows_the_finished_cells(tmp_path):
    log = journal.Journal(tmp_path)
    log.start({"started": "now", "arguments": {}})
    for step in ("a", "b"):
        log.append(point("x", 1.0, step, repeat=1))
    log.append(point("x", 1.0, "a", repeat=2))  # repetition 2 stopped after one of its two steps
    with open(tmp_path / journal.POINTS, "a") as file:
        file.write('{"scenario": "demo", "ar')  # the line the crash cut short
    run, points = journal.read(tmp_path)
    assert run["started"] == "now" and len(points) == 3
    done = journal.finished_cells(points, lambda cell: {("a", "locust"), ("b", "locust")})
    assert list(done) == [journal.Cell(1, "demo", "x", "3.13")]


def test_a_spectrum_runs_from_the_median_to_the_last_request():
    xs, ys = plots.spectrum({"1": 50, "2": 40, "10": 9, "100": 1})
    assert ys == [1, 2, 10, 100]
    assert xs[:3] == pytest.approx([2, 10, 100])  # p50, p90, p99
    assert xs[-1] == pytest.approx(1000)  # the last of 100 requests: one decade past p99


DATA = Path(__file__).parent / "data"


def test_redis_benchmark_output_gives_the_figures_and_its_cpu():
    figures = reference_client.parse((DATA / "redis-benchmark-ping.txt").read_text())
    assert figures["rps"] == 32786.88 and figures["requests"] == 20000
    assert (figures["p50_ms"], figures["p99_ms"], figures["max_ms"]) == (0.999, 2.183, 5.207)  # its summary line
    assert sum(figures["histogram"].values()) == 20000 and figures["p99_ms"] <= figures["p999_ms"] <= figures["max_ms"]
    assert figures["loadgen_cpu"] == pytest.approx(100 * 0.35 / 0.61, abs=0.1) and not figures["loadgen_bound"]
    with pytest.raises(AttributeError):
        reference_client.parse("Could not connect to Redis at target:7000: Connection refused")


def test_the_c_client_replays_what_it_can_express():
    throughput, accept, head = scenarios.load_all(["throughput", "accept-storm", "head-of-line"], quick=True)
    pipelined = next(step for step in throughput.steps if step.base == "PING, pipeline 16")
    assert reference_client.expressible(pipelined) == ["PING"]
    argv = reference_client.arguments(pipelined, ["PING"], "target", 7000, 1, seconds=2.0, locust_rps=2000.0)
    assert argv[argv.index("-c") + 1] == "64" and argv[argv.index("-P") + 1] == "16" and argv[-1] == "PING"
    assert argv[argv.index("-n") + 1] == "6000"  # 1.5 × what Locust served over the seconds
    echo = next(step for step in throughput.steps if step.base == "ECHO 1 KiB")
    assert reference_client.expressible(echo) == ["ECHO", "x" * 1024]  # the bytes Locust sends
    plan = runner.steps_of(throughput, "single-thread")
    assert [client for _, client in plan] == ["locust", "redis-benchmark"] * len(throughput.steps)
    # An open-loop sweep of new connections: one closed loop of its users, -k 0, after the last rate.
    *_, (closed, client) = runner.steps_of(accept, "single-thread")
    argv = reference_client.arguments(closed, reference_client.expressible(closed), "target", 7000, 1)
    assert client == "redis-benchmark" and closed.x is None and argv[argv.index("-k") + 1] == "0"
    assert sum(c == "redis-benchmark" for _, c in runner.steps_of(accept, "single-thread")) == 1
    assert {client for _, client in runner.steps_of(head, "single-thread")} == {"locust"}  # two groups of users


def test_queueing_theory_two_workers_at_80_percent():
    assert theory.erlang_c(2, 1.6) == pytest.approx(2 * 0.8**2 / 1.8)  # C(2, a) = 2ρ² / (1 + ρ)
    shared = theory.wait(2, 1.6, 1.0)  # λ = 1.6/s, one second of service: 80 % load
    split = theory.wait(1, 0.8, 1.0)  # each worker its own queue of half the arrivals
    assert split[0] / shared[0] == pytest.approx(2.25)  # the textbook's gap
    assert split[1] > shared[1] > 0  # and in the tail
    assert theory.wait(2, 2.0, 1.0) is None  # 100 % load: the queue grows without end
    models = theory.predict(4, {"PING": (1000.0, 0.00002), "SLEEP": (40.0, 0.05)}, "PING")
    (shared, split) = models.values()
    assert split["p99_ms"] > shared["p99_ms"] > 0.02  # PING's own 20 µs at least


def test_the_models_read_what_the_server_served():
    def text(pings, seconds):
        return ("# TYPE connlab_request_duration_seconds histogram\n"
                f'connlab_request_duration_seconds_count{{arch="x",command="PING"}} {pings}\n'
                f'connlab_request_duration_seconds_sum{{arch="x",command="PING"}} {seconds}\n')  # fmt: skip
    served = theory.served(text(100, 0.01), text(2100, 0.05), 2.0, measure.samples)
    assert served == {"PING": (pytest.approx(1000.0), pytest.approx(0.00002))}
    points = [point(a, 1.0, served={"PING": [1000.0, 0.00002], "SLEEP": [40.0, 0.05]}) for a in ("a", "b")]
    classes = theory.step_classes(points)
    assert set(theory.predict(4, classes, "PING")) == {"one shared queue (M/M/4)", "a queue per worker (4 × M/M/1)"}
    assert "ECHO" not in classes  # no model for what the servers did not serve


CHANGE = {"claim": "c", "source": "s", "metric": "rps", "step": "s", "designs": ["a", "b"], "expect": "more",
          "margin": 1.5}  # fmt: skip


@pytest.mark.parametrize("before, after, expect, expected", [
    ([100, 90, 110], [200, 190, 230], "more", "yes"),
    ([50, 55, 45], [52, 55, 47], "more", "no"),
    ([100, 90], [200, 130], "more", "inconclusive"),  # one round 2×, the other 1.44×
    ([100, 90], [105, 88], "same", "yes"),
    ([50, 55], [20, 25], "same", "no"),  # it fell: not "the same" either
    ([100], [200], "more", "inconclusive"),  # one round: no interval
])  # fmt: skip
def test_a_design_against_itself(before, after, expect, expected):
    prediction = {**CHANGE, "expect": expect, "margin": 1.5 if expect == "more" else 1.2}
    judged = verdict.judge_change(prediction, "a", dict(enumerate(before, 1)), dict(enumerate(after, 1)))
    assert judged["verdict"] == expected and judged["rounds"] == len(before)
    assert judged["measured"].startswith("a ") and " → " in judged["measured"]
    assert verdict.judge_change(prediction, "a", {1: 5.0}, {2: 9.0})["verdict"] == "not comparable"


def test_change_rows_across_builds_and_along_the_sweep():
    demo = scenarios.Scenario("demo", "t", "d", "l", ["WORK"], "rps",
                              [scenarios.Step("s @ 1 users", "s", 1, []), scenarios.Step("s @ 8 users", "s", 8, [])], [])
    points = []
    for r in (1, 2):
        for python, top in (("3.13", 100), ("3.13t", 190)):
            for arch, scale in (("a", 1), ("b", 2)):
                points.append(point(arch, 95 * scale, "s @ 1 users", 1, base="s", python=python, repeat=r))
                points.append(point(arch, (top + r) * scale, "s @ 8 users", 8, base="s", python=python, repeat=r))
    builds = {**CHANGE, "from": {"python": "3.13"}, "to": {"python": "3.13t"}}
    rows = verdict.change_rows(demo, builds, points, ["3.13", "3.13t"])
    assert [(row["python"], row["verdict"]) for row in rows] == [("3.13 → 3.13t", "yes")] * 2
    assert 1.85 < rows[0]["ratio"] < 1.9 and rows[1]["measured"].startswith("b ")
    assert verdict.change_rows(demo, builds, points, ["3.13"]) == []  # one build: nothing to compare
    sweep = {**CHANGE, "designs": ["a"], "from": {"x": 1}}
    gil, free = verdict.change_rows(demo, sweep, points, ["3.13", "3.13t"])
    assert (gil["python"], gil["verdict"], free["python"], free["verdict"]) == ("3.13", "no", "3.13t", "yes")


def test_a_prediction_about_designs_needs_its_ends(tmp_path):
    (tmp_path / "bad.toml").write_text('title = "t"\ndescription = "d"\nlook_for = "l"\nmeasure = ["PING"]\n'
                                       'headline = "rps"\n[[steps]]\nlabel = "x"\n[[predictions]]\nclaim = "c"\n'
                                       'source = "s"\nmetric = "rps"\ndesigns = ["a"]\nexpect = "more"\n')  # fmt: skip
    with pytest.raises(scenarios.ScenarioError, match="`from` and `to` that differ"):
        scenarios.load_all(directory=tmp_path)


def test_the_all_cpu_scenario_runs_only_its_designs_without_the_c_client():
    chosen, cells = runner.plan(["cpu-scaling"], [], ["3.13", "3.13t"], 1, True)
    (scenario,) = chosen
    assert scenario.server_cpus == "all" and {cell.target for cell in cells} == set(scenario.designs)
    assert {client for _, client in runner.steps_of(scenario, "hybrid")} == {runner.LOCUST}


SCHEDSTAT = """1/task/1 python3 0 5000000 100000 10
1/task/7 loop-io 0 200000000 150000000 1000
1/task/8 worker-0 10 900000000 40000000 90
1/task/9 worker-1 10 880000000 50000000 110
"""


def test_schedstat_says_which_thread_waited_for_a_cpu():
    before = schedstat.parse(SCHEDSTAT)
    after = schedstat.parse(SCHEDSTAT.replace("200000000 150000000 1000", "400000000 550000000 2000")
                            .replace("900000000 40000000 90", "1900000000 50000000 100") + "1/task/10 worker-2 10 5 0 1\n")
    found = schedstat.per_role(before, after, seconds=2.0)
    assert found["I/O thread"] == {"cpu_ms": 100.0, "runq_ms": 200.0, "delay_us": 400.0, "threads": 1, "nice": 0}
    assert found["workers"]["nice"] == 10
    assert found["workers"]["threads"] == 3 and found["workers"]["cpu_ms"] == pytest.approx(500.0, abs=0.01)
    assert found["workers"]["delay_us"] == pytest.approx(10_000_000 / 11 / 1e3)
    assert schedstat.role("loop-p1-io") == "I/O thread" and schedstat.role("loop-3") == "event loops"
    assert schedstat.role("connection") == "connection threads" and schedstat.role("python3") == "other"
    assert schedstat.parse("garbage\n1/task/2 only three 4\n") == {}
    assert schedstat.parse("1/task/2 worker-0 -5 1 2 3\n") == {"1/task/2": ("worker-0", -5, 1, 2, 3)}


def test_settings_for_every_server_are_key_value_pairs():
    from connlab_compare.__main__ import settings

    assert settings("WORKER_NICE=10,WORKERS=2") == {"WORKER_NICE": "10", "WORKERS": "2"}
    assert settings("") == {}
    with pytest.raises(SystemExit, match="'nice' is not KEY=VALUE"):
        settings("WORKERS=2,nice")


def test_the_report_shows_where_the_threads_waited(tmp_path):
    results, chosen = constructed_results()
    for repeat, waited in ((1, 1500.0), (2, 1700.0)):
        threads = {"I/O thread": {"cpu_ms": 60.0, "runq_ms": 190.0, "delay_us": 120.0, "threads": 1},
                   "workers": {"cpu_ms": 900.0, "runq_ms": waited, "delay_us": 700.0, "threads": 4}}  # fmt: skip
        results["points"].append(point("message-balancing", 50.0 + repeat, "PING 1000/s with WORK 5ms",
                                       scenario="head-of-line", repeat=repeat, threads=threads))  # fmt: skip
    results["machine"]["settings"] = {"WORKER_NICE": "10"}
    jsonschema.validate(results, report.schema())
    report.write(tmp_path, results, chosen)
    markdown = (tmp_path / "report.md").read_text()
    assert "Every server ran with WORKER_NICE=10." in markdown
    assert ("| PING 1000/s with WORK 5ms | message-balancing | 3.13 | workers | 4 | – | 900 [900–900] | "
            "1,600 [1,500–1,700] | 700 [700–700] |") in markdown  # fmt: skip


def test_every_run_has_its_points_as_csv_and_a_line_in_the_index(tmp_path):
    import csv
    import hashlib

    from connlab_compare import exports

    results, chosen = constructed_results()
    results["machine"].update(commit="0123456789abcdef0123456789abcdef01234567", dirty=True)
    report.write(tmp_path / "20261202T000000Z", results, chosen)
    del results["machine"]["commit"]  # an older run: no provenance
    results["partial"] = "1 of 9 cells not measured"
    report.write(tmp_path / "20261202T010000Z", results, chosen)
    with open(tmp_path / "20261202T000000Z" / exports.CSV, newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == len(results["points"]) and rows[0]["scenario"] == results["points"][0]["scenario"]
    assert {"rps", "p99_ms", "loadgen_bound"} <= set(rows[0]) and "histogram" not in rows[0]
    index = (tmp_path / "index.html").read_text()
    assert index.index("20261202T010000Z") < index.index("20261202T000000Z")  # newest first
    assert "0123456789 (dirty)" in index and "partial" in index and "href='20261202T000000Z/index.html'" in index
    counts = {}
    for row in results["verdicts"]:
        counts[row["verdict"]] = counts.get(row["verdict"], 0) + 1
    assert ", ".join(f"{n} {v}" for v, n in sorted(counts.items())) in index
    found = exports.provenance([scenarios.DIRECTORY / "spread.toml"])
    assert found["commit"] is None or len(found["commit"]) == 40
    assert found["dirty"] in (True, False, None)
    assert found["scenario_hashes"] == {"spread": hashlib.sha256((scenarios.DIRECTORY / "spread.toml").read_bytes()).hexdigest()}


def test_a_diff_of_two_runs_says_what_changed(tmp_path):
    from connlab_compare import diff

    a, chosen = constructed_results()
    b = json.loads(json.dumps(a))
    for point in b["points"]:
        if point["target"] == "message-balancing" and point["scenario"] == "throughput":
            point["metrics"]["rps"] *= 2  # twice as fast in every repetition: changed
    b["verdicts"] = verdict.verdicts(chosen, b["points"], ["3.13"], lambda python: {})
    rows = diff.write(tmp_path, a, b, ["A", "B"], chosen)
    changed = {(r[1], r[2]) for r in rows if r[12] == "changed"}
    assert changed and all(arch == "message-balancing" for _, arch in changed)
    assert all(r[9] == 1.0 and r[12] == "within noise" for r in rows if r[2] != "message-balancing")
    markdown = (tmp_path / "report.md").read_text()
    assert "## Verdicts that changed" in markdown and (tmp_path / "throughput-diff.png").stat().st_size > 5_000
    # One build in each run (3.13 in A, 3.13t in B): matched across builds.
    for point in b["points"]:
        point["python"] = "3.13t"
    b["machine"]["pythons"] = ["3.13t"]
    across = diff.write(tmp_path / "across", a, b, ["A", "B"], chosen)
    assert len(across) == len(rows) and {r[5] for r in across} == {None}
    assert "matched across builds" in (tmp_path / "across" / "report.md").read_text()


def test_a_new_scenario_is_data_only(tmp_path):
    """A scenario file in a folder of its own: its table's columns, its figure and its
    verdict come from the file; no Python names it."""
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "held-open.toml").write_text('''
title = "Held open"
description = "Connections held open."
look_for = "Bytes per connection."
measure = ["PING"]
headline = "bytes_per_connection"
columns = ["bytes_per_connection"]
plot = "top"
x_label = "open connections"
[[steps]]
label = "held"
parameters = { mix = "PING:1" }
sweep = { users = [10, 100] }
[[predictions]]
claim = "One thread per connection costs more."
source = "a book"
metric = "bytes_per_connection"
better = ["single-thread"]
worse = ["single-acceptor/per-connection"]
''')
    (held,) = scenarios.load_all(directory=folder)
    points = [point(arch, 1.0, f"held @ {users} users", users, base="held", scenario="held-open", repeat=r,
                    bytes_per_connection=size * users / 10)
              for r in (1, 2) for users in (10, 100)
              for arch, size in (("single-thread", 2000.0 + r), ("single-acceptor/per-connection", 40000.0 + r))]  # fmt: skip
    machine = constructed_results()[0]["machine"] | {"scenarios": ["held-open"]}
    results = {"schema": journal.SCHEMA, "started": "now", "finished": "now", "partial": None, "machine": machine, "points": points,
               "verdicts": verdict.verdicts([held], points, ["3.13"], lambda python: {})}  # fmt: skip
    report.write(tmp_path / "run", results, [held])
    assert (tmp_path / "run" / "held-open.png").stat().st_size > 5_000
    markdown = (tmp_path / "run" / "report.md").read_text()
    header = next(line for line in markdown.split("## Held open")[1].splitlines() if line.startswith("| step | client"))
    assert header.endswith("| bytes_per_connection |")
    assert results["verdicts"][0]["verdict"] == "yes"


def test_report_knows_no_scenario_by_name():
    source = (Path(report.__file__)).read_text()
    for scenario in scenarios.load_all():
        assert f'"{scenario.name}"' not in source, scenario.name


def test_redis_server_runs_what_its_record_allows():
    by_name = {s.name: s for s in scenarios.load_all()}
    head = by_name["head-of-line"]
    assert [REFERENCE.runs(head, step) for step in head.steps] == [True, False]  # SLEEP yes (DEBUG SLEEP), WORK no
    assert not any(REFERENCE.runs(by_name["spread"], step) for step in by_name["spread"].steps)  # no per-worker counts
    assert all(REFERENCE.runs(by_name["throughput"], step) for step in by_name["throughput"].steps)
    _, cells = runner.plan(["cpu-bound", "throughput"], [REDIS], ["3.13"], 1, True)
    assert [(cell.scenario, cell.python) for cell in cells] == [("throughput", "C")]
