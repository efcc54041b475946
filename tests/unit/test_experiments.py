"""make compare's parts on constructed data: the scenario files, the verdicts, the
figures the servers' metrics give, and a report whose plots are real PNGs."""

import json

import jsonschema
import matplotlib.image
import pytest

from connlab.config import variants
from connlab_compare import measure, report, scenarios, verdict
from connlab_compare.lab import REDIS

KNOWN = {*variants(), REDIS}


def point(arch, value, step="s", x=None, bound=False, scenario="demo", python="3.13", repeat=1, base=None, **extra):
    metrics = {"rps": value, "p50_ms": value / 2, "p99_ms": value, "p999_ms": value, "max_ms": value, "errors": 0,
               "loadgen_cpu": 95.0 if bound else 40.0, "loadgen_bound": bound, **extra}  # fmt: skip
    return {"scenario": scenario, "arch": arch, "python": python, "step": step, "base": base or step, "x": x,
            "repeat": repeat, "metrics": metrics}  # fmt: skip


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


@pytest.mark.parametrize("values, expected", [
    ({"a": 1.0, "b": 2.0, "c": 10.0}, "yes"),   # worse group well behind
    ({"a": 1.0, "b": 2.0, "c": 1.5}, "no"),     # no difference beyond the margin
    ({"a": 10.0, "b": 9.0, "c": 1.0}, "no"),    # the opposite
])  # fmt: skip
def test_better_and_worse_groups(values, expected):
    found = {arch: (value, False) for arch, value in values.items()}
    assert verdict.judge(LOWER, found)[0] == expected


def test_higher_is_better_and_similar():
    higher = {**LOWER, "metric": "rps", "higher_is_better": True}
    assert verdict.judge(higher, {"a": (1000, False), "b": (900, False), "c": (100, False)})[0] == "yes"
    similar = {"claim": "c", "source": "s", "metric": "rps", "similar": ["a", "b", "c"]}
    assert verdict.judge(similar, {"a": (100, False), "b": (110, False), "c": (105, False)})[0] == "yes"
    assert verdict.judge(similar, {"a": (100, False), "b": (200, False), "c": (105, False)})[0] == "no"


def test_a_load_generator_bound_or_missing_point_is_never_compared():
    found = {"a": (1.0, False), "b": (2.0, True), "c": (10.0, False)}
    verdict_, words = verdict.judge(LOWER, found)
    assert verdict_ == "not comparable" and "load generator bound" in words
    assert verdict.judge(LOWER, {"a": (1.0, False), "b": (2.0, False)})[0] == "not comparable"


def test_values_are_medians_at_the_last_step_of_the_sweep():
    demo = scenarios.Scenario("demo", "t", "d", "l", ["PING"], "rps",
                              [scenarios.Step("s @ 1 users", "s", 1, []), scenarios.Step("s @ 8 users", "s", 8, [])], [])
    points = [point("a", v, "s @ 8 users", 8, base="s", repeat=r) for r, v in ((1, 10), (2, 30), (3, 20))]
    points.append(point("a", 999, "s @ 1 users", 1, base="s"))
    found = verdict.values(points, demo, {"metric": "rps", "step": "s"}, "3.13")
    assert found == {"a": (20, False)}


def test_sustained_rate_stops_at_the_first_failing_step():
    sweep = [point("a", 1, x=rate) for rate in (250, 1000, 2000, 4000)]
    sweep[2]["metrics"]["errors"] = 3
    assert measure.sustained_rate(sweep, knee_ms=10) == 1000
    sweep[0]["metrics"]["p99_ms"] = 50
    assert measure.sustained_rate(sweep, knee_ms=10) == 0


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
    assert measure.server_resources(info) == {"memory": 123456.0, "threads": None, "fds": None}


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
            points.append(point(arch, 2.0 + i + repeat, "PING 1000/s with SLEEP 50ms", scenario="head-of-line",
                                python=python, repeat=repeat))
    machine = {"hostname": "h", "kernel": "k", "cpu_model": "cpu", "cpus": 2, "server_cpus": "1", "loadgen_cpus": "0",
               "docker": "28", "images": {"connlab/server:latest": "sha256:0123456789abcdef0123"},
               "pythons": ["3.13"], "python_versions": {"3.13": "Python 3.13.5, GIL enabled", "C": "redis-server (C)"},
               "quick": False, "repeat": 2, "scenarios": ["throughput", "head-of-line"]}  # fmt: skip
    chosen = scenarios.load_all(["throughput", "head-of-line"], quick=True)
    results = {"started": "2026-11-27 12:00 UTC", "finished": "2026-11-27 12:10 UTC", "machine": machine,
               "points": points}  # fmt: skip
    results["verdicts"] = verdict.verdicts(chosen, points, ["3.13"], lambda python: {})
    return results, chosen


def test_report_files_validate_and_plots_are_real_pngs(tmp_path):
    results, chosen = constructed_results()
    jsonschema.validate(results, report.schema())
    report.write(tmp_path, results, chosen)
    assert json.loads((tmp_path / "results.json").read_text()) == results
    pngs = sorted(tmp_path.glob("*.png"))
    assert {p.name for p in pngs} >= {"throughput.png", "head-of-line.png", "p99-by-architecture.png"}
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        pixels = matplotlib.image.imread(png)
        assert pixels.shape[0] > 300 and pixels.shape[1] > 400
        assert pixels.std() > 0.05, f"{png.name} is (nearly) blank"
    markdown = (tmp_path / "report.md").read_text()
    assert "What the literature predicts" in markdown and "![" in markdown and "†" in markdown
    page = (tmp_path / "index.html").read_text()
    assert page.count("data:image/png;base64,") == len(pngs) and "<table>" in page


def test_schema_rejects_a_point_without_its_figures():
    results, _ = constructed_results()
    del results["points"][0]["metrics"]["p99_ms"]
    with pytest.raises(jsonschema.ValidationError, match="p99_ms"):
        jsonschema.validate(results, report.schema())
