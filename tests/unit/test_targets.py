"""The registry of targets (designs and reference folders alike), the C client's command
line and parser, and the cell as run.json keeps it."""

import json
from pathlib import Path

import bench_server
import pytest
from connlab_compare import journal, report, run, runner, scenarios, targets, verdict
from connlab_compare.clients import RedisBenchmark
from connlab_compare.journal import Cell
from test_compare_protocols import lines_codec  # noqa: F401 (a fixture)
from test_experiments import constructed_results

DATA = Path(__file__).parent / "data"
RECORD = """label = "valkey-server (C)"
build = "C"
port = 6380
protocols = ["resp"]
dialect = "redis"
probe = "INFO memory"
ready = ["valkey-cli", "-p", "6380", "ping"]
cannot = ["WORK", "SLEEP"]
anchor = true
"""


@pytest.fixture
def another_reference(tmp_path, monkeypatch):
    """references/ plus a folder of the tests' own: a reference and nothing else."""
    for name in ("redis", "valkey"):
        (tmp_path / name).mkdir()
    (tmp_path / "redis/reference.toml").write_text((targets.DIRECTORY / "redis/reference.toml").read_text())
    (tmp_path / "valkey/reference.toml").write_text(RECORD)
    (tmp_path / "notes").mkdir()  # a folder without a record is no reference
    monkeypatch.setenv("CONNLAB_REFERENCES", str(tmp_path))
    return targets.get("valkey")


def test_a_reference_record_may_name_variants(another_reference, tmp_path):
    """`[variants.<suffix>]`: the same image configured another way, as `<name>/<suffix>`."""
    record = tmp_path / "valkey/reference.toml"
    record.write_text(RECORD + 'settings = ["WORKERS"]\nenv = { MODE = "shared" }\n'
                      '[variants.threads]\nlabel = "valkey, I/O threads"\nenv = { IO_THREADS = "4" }\nper_worker = true\n')
    targets._read.cache_clear()
    found = targets.references()
    assert list(found) == ["redis", "redis/io-threads", "valkey", "valkey/threads"]
    threaded = found["valkey/threads"]
    assert (threaded.label, threaded.per_worker, found["valkey"].per_worker) == ("valkey, I/O threads", True, False)
    assert threaded.run_spec("3.13", {"WORKERS": "2", "ARCH": "x"}) == (
        f"connlab/valkey:{targets.tag()}", {"MODE": "shared", "IO_THREADS": "4", "WORKERS": "2"})  # only the settings it takes


def test_a_reference_folder_is_all_a_new_reference_takes(another_reference):
    valkey = another_reference
    assert list(targets.references()) == ["redis", "redis/io-threads", "valkey"]
    assert valkey.reference and valkey.cannot == ("WORK", "SLEEP") and valkey.metrics_port is None
    assert valkey.run_spec("3.13", {"WORKERS": "2"}) == (f"connlab/valkey:{targets.tag()}", {})  # settings are connlab's
    assert valkey.scrape_source() == "tcp://target:6380 INFO memory"
    # In the compare plan, on its own build, where it can run a step: accept-storm (PING) yes, cpu-bound (WORK)
    # no. (Scenarios that name the real references are refused here: this folder has none of them.)
    _, cells = runner.plan(["accept-storm", "cpu-bound"], ["single-thread", "valkey"], ["3.13"], 1, True)
    assert Cell(1, "accept-storm", "valkey", "C") in cells
    assert {cell.target for cell in cells if cell.scenario == "cpu-bound"} == {"single-thread"}
    # Without ARCHS too, an anchor as redis-server is, beside the designs and redis.
    _, cells = runner.plan(["accept-storm"], [], ["3.13"], 1, True)
    assert {"redis", "valkey", "single-thread"} <= {cell.target for cell in cells}
    # And in bench-server's anchors, as it runs them.
    anchors = bench_server.groups(["single-thread"], ["3.13"])[0]
    assert [(s.label, s.image, s.port, s.ready) for s in anchors][-1] == (
        "valkey-server (C)", f"connlab/valkey:{targets.tag()}", 6380, ("valkey-cli", "-p", "6380", "ping"))


SCENARIO = """title = "Lines"
description = "A scenario whose load speaks the test-only protocol."
look_for = "-"
measure = ["PING"]
headline = "rps"
protocol = "lines"
[[steps]]
label = "PING"
users = 4
[[predictions]]
claim = "-"
source = "-"
metric = "rps"
similar = ["single-thread", "liner"]
"""


def test_a_protocol_module_and_a_reference_folder_are_all_they_take(lines_codec, tmp_path, monkeypatch):
    """A test-only protocol module and a test-only reference that speaks it (and RESP):
    the plan runs a scenario in that protocol on every design and on that reference
    alone of the references, the report shows them, bench-server lists the reference."""
    record = (targets.DIRECTORY / "redis/reference.toml").read_text()
    for name, spoken in (("redis", '["resp"]'), ("liner", '["resp", "lines"]')):
        (tmp_path / "references" / name).mkdir(parents=True)
        (tmp_path / "references" / name / "reference.toml").write_text(
            record.replace('"redis"', f'"{name}"', 1).replace('["resp"]', spoken))
    monkeypatch.setenv("CONNLAB_REFERENCES", str(tmp_path / "references"))
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios/lines.toml").write_text(SCENARIO)
    monkeypatch.setattr(runner, "load_all", lambda names, quick: scenarios.load_all(names, quick, tmp_path / "scenarios"))
    loaded, cells = runner.plan(["lines"], [], ["3.13"], 1, True, ["lines"])
    planned = {cell.target for cell in cells}
    assert "liner" in planned and "redis" not in planned
    assert set(targets.design_targets()) - {name for name, t in targets.design_targets().items() if t.policy} <= planned
    assert targets.get("single-thread").protocols == ("resp", "http", "lines")
    # In the report, beside a design.
    points = [{"scenario": "lines", "target": name, "python": build, "protocol": "lines", "step": "PING", "base": "PING", "x": None,
               "repeat": 1, "client": "locust", "metrics": {"rps": 1000.0, "p50_ms": 1.0, "p99_ms": 2.0,
               "p999_ms": 2.0, "max_ms": 2.0, "errors": 0, "loadgen_cpu": 40.0, "loadgen_bound": False}}
              for name, build in (("single-thread", "3.13"), ("liner", "C"))]  # fmt: skip
    results = {"schema": journal.SCHEMA, "started": "now", "finished": "now", "partial": None, "points": points,
               "machine": constructed_results()[0]["machine"] | {"scenarios": ["lines"], "protocols": ["lines"]},
               "verdicts": verdict.verdicts(loaded, points, ["3.13"], lambda python: {}, ["lines"])}  # fmt: skip
    report.write(tmp_path / "run", results, loaded)
    section = (tmp_path / "run/report.md").read_text().split("## Lines")[1]
    assert "liner" in section and "single-thread" in section and "| redis" not in section
    # And in bench-server's anchors: its client speaks RESP, which the reference speaks too.
    anchors = bench_server.groups(["single-thread"], ["3.13"])[0]
    assert f"connlab/liner:{targets.tag()}" in {s.image for s in anchors}


def test_designs_and_references_answer_the_same_questions():
    design, redis = targets.get("single-acceptor/pool"), targets.get("redis")
    image, env = design.run_spec("3.13t", {"WORKERS": "2"})
    assert image.endswith("-3.13t") and env == {"ARCH": "single-acceptor", **design.env, "WORKERS": "2"}
    assert design.env["WORKER_MODEL"] == "pool"  # the mode the name picks
    assert design.builds(["3.13", "3.13t"]) == ["3.13", "3.13t"] and redis.builds(["3.13", "3.13t"]) == ["C"]
    assert design.scrape_source() == "http://target:8000/metrics" and design.traced and not redis.traced
    assert (redis.port, redis.dialect, redis.protocols) == (6379, "redis", ("resp",))
    assert redis.run_spec("3.13")[0] == f"connlab/redis:{targets.tag()}"
    # The Dockerfile runs the config file the record sits beside.
    folder = targets.DIRECTORY / "redis"
    assert "/etc/connlab/redis.conf" in (folder / "Dockerfile").read_text()
    assert "enable-debug-command yes" in (folder / "redis.conf").read_text()  # SLEEP is DEBUG SLEEP


def test_redis_benchmark_command_line():
    argv = RedisBenchmark.command("target", 7000, ["ECHO", "x"], clients=0, requests=10, pipeline=16, keepalive=False,
                                  threads=2)  # fmt: skip
    assert argv == ["redis-benchmark", "-h", "target", "-p", "7000", "-c", "1", "-n", "10", "-P", "16", "-k", "0",
                    "--threads", "2", "ECHO", "x"]  # fmt: skip
    assert RedisBenchmark.command("h", 1, tests="ping_mbulk")[-2:] == ["-t", "ping_mbulk"]


def test_redis_benchmark_output_of_a_named_test():
    """bench-server's and bench-loadgen's form (`-t ping_mbulk`): no CPU times after it."""
    figures = RedisBenchmark.parse((DATA / "redis-benchmark-ping-mbulk.txt").read_text())
    assert figures["rps"] > 0 and figures["requests"] == 20000 and figures["loadgen_cpu"] == 0.0
    assert figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]
    assert sum(figures["histogram"].values()) == 20000
    with pytest.raises(AttributeError):
        RedisBenchmark.parse("Could not connect to Redis at target:6379: Name or service not known")


def test_a_cell_round_trips_through_the_journal_and_run_json(tmp_path):
    cell = Cell(2, "throughput", "redis", "C")
    assert Cell.from_json(json.loads(json.dumps(cell.to_json()))) == cell
    assert Cell.from_json([2, "throughput", "redis", "C"]) == cell  # run.json before cells had names
    point = {"scenario": "throughput", "target": "redis", "python": "C", "repeat": 2, "step": "s", "client": "locust"}
    assert journal.cell_of(journal.upgraded(point)) == cell  # a point from before protocols spoke RESP
    asked = {"scenarios": ["throughput"], "archs": ["single-thread", "redis"], "pythons": ["3.13"], "repeat": 1,
             "quick": True}  # fmt: skip
    new, by_name = run.planned({"arguments": asked, "cells": [cell.to_json()]})
    assert new == [cell] and list(by_name) == ["throughput"]
    old, _ = run.planned({"arguments": asked, "cells": [[2, "throughput", "redis", "C"]]})
    assert old == [cell]
    replanned, _ = run.planned({"arguments": asked})  # before run.json kept its cells: planned again
    assert replanned == [Cell(1, "throughput", "single-thread", "3.13"), Cell(1, "throughput", "redis", "C")]


def test_a_record_with_an_unknown_key_names_its_file(tmp_path):
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd/reference.toml").write_text(RECORD + 'colour = "blue"\n')
    with pytest.raises(ValueError, match="odd/reference.toml.*colour"):
        targets.references(tmp_path)
