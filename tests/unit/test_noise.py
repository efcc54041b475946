"""The machine's noise, the calibration readings and further rounds: constructed data."""

import argparse
import json

import pytest

from connlab_compare import diff, noise, report, run, runner
from connlab_compare.journal import Cell
from connlab_compare.noise import Snapshot

STAT = """cpu  900 0 300 2000 10 0 5 40 0 0
cpu0 400 0 100 1000 5 0 2 0 0 0
cpu1 500 0 200 1000 5 0 3 40 0 0
intr 1 2 3
"""


def test_cpu_times_read_only_the_cpus_asked_for():
    user, steal = noise.cpu_times({1}, STAT)
    assert user == 500 / noise.TICK and steal == 40 / noise.TICK  # user and nice; kernel time is not read
    assert noise.cpu_times({0, 1}, STAT)[0] == (400 + 500) / noise.TICK


def test_noise_is_the_user_time_of_others_and_steal():
    before = Snapshot(at=0.0, wall=100.0, user=10.0, steal=1.0, usage={"server": (5.0, 3.0), "agent": (1.0, 0.5)})
    # 4 s on 2 CPUs: 8 CPU-seconds. User code ran 4 of them: the server 2.5, the agent 0.5,
    # something else 1; the hypervisor took 0.4.
    after = Snapshot(at=4.0, wall=104.0, user=14.0, steal=1.4, usage={"server": (9.0, 5.5), "agent": (2.0, 1.0)})
    figures = noise.between(before, after, {0, 1}, "server")
    assert figures == {"started_at": 100.0, "window_s": 4.0, "server_cpu": 1.0, "steal_share": 0.05,
                       "others_share": 0.125, "noise": 0.175}  # fmt: skip
    assert noise.noisy(figures, others=0.1) and not noise.noisy(figures)  # others 12.5 %: under OTHERS
    assert noise.noisy({"others_share": 0.0, "noise": 0.55}) and not noise.noisy({"others_share": 0.0, "noise": 0.45})
    # Over the 3.2 s the C client loaded it, the server used 1.25 CPUs.
    assert noise.between(before, after, {0, 1}, "server", loaded=3.2)["server_cpu"] == 1.25
    burner = Snapshot(at=4.0, wall=104.0, user=17.5, steal=1.0, usage={"server": (9.0, 5.5), "agent": (2.0, 1.0)})
    assert noise.noisy(noise.between(before, burner, {0, 1}, "server"))  # 4.5 of 8 CPU-seconds to another process


def test_without_the_servers_accounting_only_steal_is_known():
    before = Snapshot(0.0, 100.0, 10.0, 1.0, {"server": None})
    after = Snapshot(2.0, 102.0, 12.0, 1.2, {"server": None})
    figures = noise.between(before, after, {1}, "server")
    assert (figures["server_cpu"], figures["steal_share"], figures["others_share"], figures["noise"]) == (None, 0.1, None, 0.1)


def test_a_containers_cpu_time_is_found_for_both_cgroup_versions(tmp_path):
    v1 = tmp_path / "cpuacct/docker/abc/cpuacct.usage"
    v1.parent.mkdir(parents=True)
    v1.write_text("2500000000\n")
    (v1.parent / "cpuacct.stat").write_text(f"user {2 * noise.TICK}\nsystem {noise.TICK // 2}\n")
    assert noise.usage(noise.usage_file("abc", tmp_path)) == (2.5, 2.0)
    v2 = tmp_path / "system.slice/docker-def.scope/cpu.stat"
    v2.parent.mkdir(parents=True)
    v2.write_text("usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n")
    assert noise.usage(noise.usage_file("def", tmp_path)) == (1.5, 1.0)
    assert noise.usage_file("gone", tmp_path) is None and noise.usage(None) is None


def reading(when, rps):
    return {"when": when, "at": "2026-12-04 10:00:00 UTC", "rps": rps, "readings": [rps, rps, rps], "noise": 0.01}


def test_the_report_says_when_the_machine_changed_during_the_run():
    points = [{"metrics": {"noise": 0.02, "steal_share": 0.01}}, {"metrics": {"noise": 0.04, "steal_share": 0.03}}]
    steady = report.machine_noise({"calibration": [reading("start", 30_000), reading("end", 28_000)]}, points)
    assert "moved 0.93×: within the 1.2× margin" in steady and "steal) 2.0%" in steady and "at most 4% in one point" in steady
    moved = report.machine_noise({"calibration": [reading("start", 40_000), reading("end", 16_000)]}, points)
    assert "changed 0.40× during the run: more than the 1.2× margin" in moved
    spread = {**reading("end", 16_000), "readings": [12_000, 16_000, 41_000]}  # as wide as the change: not a change
    assert "moved 0.40×: within" in report.machine_noise({"calibration": [reading("start", 40_000), spread]}, points)
    assert "made before" in report.machine_noise({}, [{"metrics": {}}])


def results(calibration, noise_share=0.02):
    return {"machine": {"hostname": "h", "cpu_model": "c", "cpus": 2, "kernel": "k", "calibration": calibration},
            "points": [{"metrics": {"noise": noise_share, "steal_share": noise_share}}]}  # fmt: skip


def test_compare_diff_says_whether_a_changed_verdict_moved_with_the_machine():
    slow, fast = results([reading("start", 16_000)]), results([reading("start", 40_000)])
    assert "2.50× as fast" in diff.machine_verdict(slow, fast) and "may have moved" in diff.machine_verdict(slow, fast)
    assert "moved with the machine?" in diff.moved_with(slow, fast)
    same = results([reading("start", 38_000)])
    assert "did not move" in diff.machine_verdict(same, fast) and "not the machine" in diff.moved_with(same, fast)
    assert "unknown" in diff.machine_verdict(results([]), fast) and diff.moved_with(results([]), fast) == ""
    _, (_, _, rows), _ = diff.machines(slow, fast)
    assert ["calibration req/s", "start 16,000", "start 40,000"] in rows


class Quiet:
    def note(self, text):
        self.noted = text

    def add(self, steps):
        pass

    def show(self, *args):
        pass

    def done(self):
        pass


def journaled_run(folder, cells, points):
    (folder / "run.json").write_text(json.dumps({
        "started": "s", "arguments": {"scenarios": ["throughput"], "archs": [], "pythons": ["3.13"], "repeat": 2,
                                      "quick": True},
        "cells": [[c.repeat, c.scenario, c.target, c.python] for c in cells],  # as run.json kept them before Cell
        "machine": {"scenarios": ["throughput"], "quick": True, "pythons": ["3.13"], "server_cpus": "1"}}))  # fmt: skip
    (folder / "points.jsonl").write_text("".join(json.dumps(p) + "\n" for p in points))


def points_of(scenario, repeat, rates):
    found = []
    for arch, rps in rates.items():
        for step, client in runner.steps_of(scenario, arch):
            metrics = {"rps": rps, "p50_ms": 1.0, "p99_ms": 2.0, "p999_ms": 3.0, "max_ms": 4.0, "errors": 0,
                       "loadgen_cpu": 50.0, "loadgen_bound": False}  # fmt: skip
            found.append({"scenario": "throughput", "target": arch, "python": "3.13", "step": step.label,
                          "base": step.base, "x": step.x, "repeat": repeat, "client": client, "metrics": metrics})  # fmt: skip
    return found


def test_further_rounds_measure_the_designs_of_inconclusive_predictions_until_decided(tmp_path):
    scenarios, cells = runner.plan(["throughput"], ["single-thread", "message-balancing", "hybrid"], ["3.13"], 2, True)
    scenario = scenarios[0]

    # Round 1: single-thread 2× ahead; round 2: level. "A hand-off costs throughput" is inconclusive.
    points = points_of(scenario, 1, {"single-thread": 20_000, "message-balancing": 10_000, "hybrid": 10_000})
    points += points_of(scenario, 2, {"single-thread": 10_000, "message-balancing": 10_000, "hybrid": 10_000})
    journaled_run(tmp_path, cells, points)
    log = run.journal.Journal(tmp_path)
    took = {("throughput", arch, "3.13", "resp"): 10.0 for arch in ("single-thread", "message-balancing", "hybrid")}
    rounds = run.more_rounds(tmp_path, log, list(cells), {scenario.name: scenario}, took, 60.0, Quiet())
    third = [next(rounds) for _ in range(3)]
    assert set(third) == {Cell(3, "throughput", arch, "3.13") for arch in ("single-thread", "message-balancing", "hybrid")}
    kept = [Cell.from_json(cell) for cell in json.loads((tmp_path / "run.json").read_text())["cells"]]
    assert kept == [*cells, *third]  # the old cells as they were, the new round's after them
    # Rounds 3 and 4 agree with round 1: three to one decides; no round 5.
    for repeat in (3, 4):
        for point in points_of(scenario, repeat, {"single-thread": 20_000, "message-balancing": 10_000, "hybrid": 10_000}):
            log.append(point)
        if repeat == 3:
            assert [next(rounds).repeat for _ in range(3)] == [4, 4, 4]
    assert next(rounds, None) is None
    verdicts = run.results_of(tmp_path)[0]["verdicts"]
    handoff = next(v for v in verdicts if "Handing every request" in v["claim"])
    assert handoff["verdict"] == "yes" and handoff["rounds"] == 4 and handoff["cleared"] == 3


def test_no_further_round_when_it_does_not_fit_the_budget(tmp_path):
    scenarios, cells = runner.plan(["throughput"], ["single-thread", "message-balancing", "hybrid"], ["3.13"], 1, True)
    journaled_run(tmp_path, cells, points_of(scenarios[0], 1, {"single-thread": 20_000, "message-balancing": 10_000,
                                                               "hybrid": 10_000}))  # one round: inconclusive
    quiet = Quiet()
    took = {("throughput", arch, "3.13", "resp"): 100.0 for arch in ("single-thread", "message-balancing", "hybrid")}
    by_name = {"throughput": scenarios[0]}
    assert list(run.more_rounds(tmp_path, run.journal.Journal(tmp_path), list(cells), by_name, took, 60.0, quiet)) == []
    assert "do not fit" in quiet.noted
    assert list(run.more_rounds(tmp_path, run.journal.Journal(tmp_path), list(cells), by_name, took, 0, quiet)) == []


class FakeLab:
    server_id, server_cpus = "server", "1"

    def start_server(self, *args):
        return "tcp://target:7000"

    def snapshot(self, cpus):
        return None


class Journal(list):
    append = list.append


def test_a_noisy_point_is_measured_again_and_marked_if_it_stays_noisy(monkeypatch):
    scenario = runner.load_all(["throughput"], quick=True)[0]
    scenario.steps = scenario.steps[:2]  # PING, ECHO: Locust and redis-benchmark each
    readings = iter([0.9, 0.02, 0.0, 0.0, 0.6, 0.7])  # PING: noisy then quiet; ECHO's C point: noisy twice
    measured = []
    monkeypatch.setattr(runner.noise, "between", lambda *args: {"noise": next(readings)})  # steal alone
    monkeypatch.setattr(runner, "locust_point", lambda lab, scenario, step, *rest: measured.append(step.label) or {"rps": 1.0})
    monkeypatch.setattr(runner, "reference_point",
                        lambda lab, scenario, step, *rest: measured.append(step.label + " C") or {"rps": 2.0, "requests": 4})
    journal = Journal()
    runner.run_cell(FakeLab(), Cell(1, scenario.name, "single-thread", "3.13"), scenario, True, Quiet(), journal)
    assert measured == ["PING @ 64 users", "PING @ 64 users", "PING @ 64 users C", "ECHO 1 KiB @ 64 users",
                        "ECHO 1 KiB @ 64 users C", "ECHO 1 KiB @ 64 users C"]  # fmt: skip
    figures = [point["metrics"] for point in journal]
    assert figures[0] == {"rps": 1.0, "noise": 0.02, "remeasured_from_noise": 0.9}
    assert figures[1] == {"rps": 2.0, "requests": 4, "noise": 0.0} and figures[2] == {"rps": 1.0, "noise": 0.0}  # quiet: once
    assert figures[3] == {"rps": 2.0, "requests": 4, "noise": 0.7, "noisy": True, "remeasured_from_noise": 0.6}


def test_a_bad_budget_says_what_it_takes():
    from connlab_compare.__main__ import minutes

    assert minutes("2.5") == 2.5 and minutes("0") == 0
    for bad in ("abc", "-1", "nan"):
        with pytest.raises(argparse.ArgumentTypeError, match="is not a number of minutes"):
            minutes(bad)
