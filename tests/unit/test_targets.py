"""The registry of targets (designs and reference folders alike), the C client's command
line and parser, and the cell as run.json keeps it."""

import json
from pathlib import Path

import bench_server
import pytest
from connlab_compare import journal, run, runner, targets
from connlab_compare.clients import RedisBenchmark
from connlab_compare.journal import Cell

DATA = Path(__file__).parent / "data"
RECORD = """label = "valkey-server (C)"
build = "C"
port = 6380
protocols = ["resp"]
dialect = "redis"
probe = "INFO memory"
ready = ["valkey-cli", "-p", "6380", "ping"]
cannot = ["WORK", "SLEEP"]
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


def test_a_reference_folder_is_all_a_new_reference_takes(another_reference):
    valkey = another_reference
    assert list(targets.references()) == ["redis", "valkey"]
    assert valkey.reference and valkey.cannot == ("WORK", "SLEEP") and valkey.metrics_port is None
    assert valkey.run_spec("3.13", {"WORKERS": "2"}) == (f"connlab/valkey:{targets.tag()}", {})  # settings are connlab's
    assert valkey.scrape_source() == "tcp://target:6380 INFO memory"
    # In the compare plan, on its own build, where it can run a step: throughput yes, cpu-bound (WORK) no.
    _, cells = runner.plan(["throughput", "cpu-bound"], ["single-thread", "valkey"], ["3.13"], 1, True)
    assert Cell(1, "throughput", "valkey", "C") in cells
    assert {cell.target for cell in cells if cell.scenario == "cpu-bound"} == {"single-thread"}
    # Without ARCHS too, beside the designs and redis.
    _, cells = runner.plan(["throughput"], [], ["3.13"], 1, True)
    assert {"redis", "valkey", "single-thread"} <= {cell.target for cell in cells}
    # And in bench-server's anchors, as it runs them.
    anchors = bench_server.groups(["single-thread"], ["3.13"])[0]
    assert [(s.label, s.image, s.port, s.ready) for s in anchors][-1] == (
        "valkey-server (C)", f"connlab/valkey:{targets.tag()}", 6380, ("valkey-cli", "-p", "6380", "ping"))


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
    assert journal.cell_of(point) == cell
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
