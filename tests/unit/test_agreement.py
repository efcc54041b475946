"""Models against the real systems (a scenario's [[agreements]]) and published results
beside the lab's ([[published]]): agreement.py, and the report's sections of them."""

import pytest
from connlab_compare import agreement, report, runner, scenarios, targets
from test_experiments import point

SCENARIO = '''title = "Busy workers"
description = "d"
look_for = "l"
measure = ["WORK"]
headline = "p99_ms"

[[steps]]
label = "WORK"
users = 4
parameters = { mix = "WORK:1" }

[[predictions]]
claim = "c"
source = "s"
metric = "p99_ms"
better = ["multi-acceptor/exclusive"]
worse = ["socket-sharding"]

[[agreements]]
pattern = "A shared accept queue against one per worker, behind busy workers"
metric = "p99_ms"
model = { better = ["multi-acceptor/exclusive"], worse = ["socket-sharding"] }
real = [{ better = ["nginx"], worse = ["nginx/reuseport"] }, { better = ["haproxy/shared"], worse = ["haproxy/shards"] }]
why_not = "the model's workers share one CPU"

[[published]]
source = "Cloudflare (2017)"
setup = "every request a busy loop"
scaled = "two workers on one CPU"
figures = { nginx = { mean_ms = 30.4, max_ms = 72.7, sd_ms = 1.6 } }
'''


@pytest.fixture
def scenario(tmp_path):
    (tmp_path / "busy.toml").write_text(SCENARIO)
    return scenarios.load_all(directory=tmp_path)[0]


def points(p99):
    """Two rounds of every target, its p99 in each: {target: (round 1, round 2)}."""
    return [point(target, value, "WORK", scenario="busy", python="3.13" if target in MODEL else "C",
                  repeat=repeat + 1, protocol="http")
            for target, values in p99.items() for repeat, value in enumerate(values)]  # fmt: skip


MODEL = {"multi-acceptor/exclusive", "socket-sharding"}


def test_orderings_that_match_agree_and_those_that_do_not_say_why(scenario):
    measured = points({"multi-acceptor/exclusive": (10, 12), "socket-sharding": (50, 60),  # the shared queue ahead
                       "nginx": (20, 22), "nginx/reuseport": (80, 90),  # so in nginx
                       "haproxy/shared": (90, 95), "haproxy/shards": (30, 31)})  # not in HAProxy
    rows = agreement.rows([scenario], measured, ["3.13"], ["resp", "http"])
    assert [(r["real"], r["protocol"], r["agrees"]) for r in rows] == [
        ("nginx against nginx/reuseport", "http", "yes"), ("haproxy/shared against haproxy/shards", "http", "no")]
    assert rows[1]["why"] == "the model's workers share one CPU" and not rows[0]["why"]
    assert rows[0]["model_row"]["ratio"] == pytest.approx(5.0) and rows[0]["real_row"]["ratio"] == pytest.approx(4.045, 0.01)


def test_an_undecided_side_is_inconclusive_and_a_missing_one_has_no_row(scenario):
    measured = points({"multi-acceptor/exclusive": (10, 70), "socket-sharding": (50, 60),  # one round each way
                       "nginx": (20, 22), "nginx/reuseport": (80, 90)})  # HAProxy not measured
    [row] = agreement.rows([scenario], measured, ["3.13"], ["http"])
    assert (row["real"], row["model_row"]["verdict"], row["agrees"]) == ("nginx against nginx/reuseport", "inconclusive", "inconclusive")


def test_published_figures_beside_the_lab_s_with_mean_and_sd_from_the_histogram(scenario):
    measured = points({"nginx": (20, 40)})  # histograms: 98 at p50 (value / 2), 2 at the value
    [(source, setup, scaled, lines)] = agreement.published_rows([scenario], measured)
    assert (source, setup, scaled) == ("Cloudflare (2017)", "every request a busy loop", "two workers on one CPU")
    figures = {metric: (theirs, ours) for _, metric, theirs, ours, _ in lines}
    assert figures["max_ms"] == (72.7, [20, 40])
    assert figures["mean_ms"][1] == pytest.approx([10 * 0.98 + 20 * 0.02, 20 * 0.98 + 40 * 0.02])
    sd = (0.98 * 0.02) ** 0.5 * 10  # two values 10 apart, weights 0.98 and 0.02
    assert figures["sd_ms"][1] == pytest.approx([sd, 2 * sd])
    assert agreement.spread_text(figures["max_ms"][1]) == "30 [20–40]" and agreement.spread_text([]) == "not measured"


def test_the_report_sets_them_out(scenario):
    measured = points({"multi-acceptor/exclusive": (10, 12), "socket-sharding": (50, 60), "nginx": (20, 22),
                       "nginx/reuseport": (80, 90)})
    blocks = report.real_system_blocks([scenario], measured, {"pythons": ["3.13"], "protocols": ["http"]})
    headings = [block[1] for block in blocks if block[0] == "h2"]
    assert headings == ["Models against the real systems", "Reproduced: Cloudflare (2017)"]
    table = next(block for block in blocks if block[0] == "table")
    assert table[2][0][-1] == "yes" and table[2][0][1] == "http"
    assert report.real_system_blocks([scenario], [], {"pythons": ["3.13"]}) == []  # nothing measured, nothing said


@pytest.mark.parametrize("change, message", [
    ('real = []', "needs `pattern`, `metric`, `model` and `real`"),
    ('real = [{ better = ["nginx"] }]', "names `better` and `worse`"),
    ('real = { better = ["nginx"], worse = ["nginx/reuseport"] }', "`real` a list of them"),  # shaped like `model`
])
def test_a_bad_agreement_says_what_is_wrong(tmp_path, change, message):
    text = SCENARIO.replace('real = [{ better = ["nginx"], worse = ["nginx/reuseport"] }, '
                            '{ better = ["haproxy/shared"], worse = ["haproxy/shards"] }]', change)
    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(scenarios.ScenarioError, match=message):
        scenarios.load_all(directory=tmp_path)


def test_a_reference_runs_by_default_where_a_scenario_names_it_or_it_is_an_anchor(scenario):
    known = {**{name: targets.Target(name, name, 7000, ()) for name in ("multi-acceptor/exclusive", "socket-sharding")},
             **{r.name: r for r in (reference("nginx"), reference("nginx/reuseport"), reference("nginx/accept-mutex"),
                                     reference("redis", anchor=True))}}
    chosen = [t.name for t in runner.chosen_targets(scenario, [], known)]
    assert chosen == ["multi-acceptor/exclusive", "socket-sharding", "nginx", "nginx/reuseport", "redis"]
    assert [t.name for t in runner.chosen_targets(scenario, ["nginx/accept-mutex"], known)] == ["nginx/accept-mutex"]



def reference(name, anchor=False):
    return targets.Target(name, name, 80, ("true",), image=name.split("/")[0], anchor=anchor, protocols=("http",))


def test_a_scenario_with_its_own_designs_runs_them_and_the_references_it_names_or_sets_beside(tmp_path):
    own = 'headline = "p99_ms"\ndesigns = ["multi-acceptor/exclusive", "socket-sharding"]\nbeside = ["gunicorn"]\n'
    (tmp_path / "busy.toml").write_text(SCENARIO.replace('headline = "p99_ms"\n', own))
    scenario = scenarios.load_all(directory=tmp_path)[0]
    known = {**{name: targets.Target(name, name, 7000, ()) for name in ("single-thread", "multi-acceptor/exclusive", "socket-sharding")},
             **{name: reference(name) for name in ("nginx", "nginx/reuseport", "gunicorn", "node")}}
    chosen = [t.name for t in runner.chosen_targets(scenario, [], known)]
    assert chosen == ["multi-acceptor/exclusive", "socket-sharding", "nginx", "nginx/reuseport", "gunicorn"]


def test_a_balancing_policy_a_scenario_names_runs_there_though_the_scenario_asks_for_no_policies(tmp_path):
    (tmp_path / "busy.toml").write_text(SCENARIO.replace('worse = ["socket-sharding"]\n', 'worse = ["single-acceptor/steal"]\n', 1))
    scenario = scenarios.load_all(directory=tmp_path)[0]
    known = {"multi-acceptor/exclusive": targets.Target("multi-acceptor/exclusive", "", 7000, ()),
             **{name: targets.Target(name, name, 7000, (), policy=True) for name in ("single-acceptor/steal", "single-acceptor/two-choices")}}
    assert [t.name for t in runner.chosen_targets(scenario, [], known)] == ["multi-acceptor/exclusive", "single-acceptor/steal"]


def test_a_scenario_naming_a_target_that_does_not_exist_is_refused_with_the_names_there_are(tmp_path, monkeypatch):
    (tmp_path / "busy.toml").write_text(SCENARIO.replace('headline = "p99_ms"\n', 'headline = "p99_ms"\nbeside = ["ngnix"]\n'))
    monkeypatch.setattr(runner, "load_all", lambda names, quick: scenarios.load_all(directory=tmp_path))
    with pytest.raises(scenarios.ScenarioError, match=r"busy.toml names ngnix, not a design or reference: .*nginx"):
        runner.plan(None, [], ["3.13"], 1, True, ["http"])


def test_a_runs_server_builds_name_their_python_and_each_other_build_its_references():
    class Lab:
        def start_server(self, target, python, settings):
            return "address"

        def ask_all(self, asks):
            return [{"reply": "python:3.13.5\ngil:1\n"}]

        def stop_server(self):
            pass

    found = runner.versions(Lab(), ["single-thread", "uvicorn/workers", "nginx", "haproxy"], ["3.13"])
    assert found["3.13"] == "Python 3.13.5, GIL 1"  # not a Python reference's label
    assert found["C"] == f"{targets.get('nginx').label}, {targets.get('haproxy').label}"


def test_a_published_figure_stands_on_a_client_that_was_not_the_limit_or_says_it_was(scenario):
    locust = points({"nginx": (20, 40)})
    wrk = [{**p, "client": "wrk", "metrics": {**p["metrics"], "max_ms": 5.0}} for p in locust]
    bound = [{**p, "metrics": {**p["metrics"], "loadgen_bound": True}} for p in locust]
    def max_ms(measured):
        [(*_, lines)] = agreement.published_rows([scenario], measured)
        return next((ours, note) for _, metric, _, ours, note in lines if metric == "max_ms")
    assert max_ms(locust + wrk) == ([20, 40], "")  # Locust's, where it was not the limit
    assert max_ms(bound + wrk) == ([5.0, 5.0], "wrk")
    assert max_ms(bound) == ([20, 40], "† load generator bound")
