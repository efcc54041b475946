"""A run written before results.json had a schema version still draws, with the same
verdicts, and still diffs; so does one of schema 2 (before protocols), and both read as
RESP's. The fixture is a real `make compare QUICK=1` run of 2026-12-06 (spread and
cpu-bound, six designs and redis-server), written by the code before the targets
registry; its points' noise marks were cleared (the machine was busy then) so that
spread's verdict is decided, and its verdicts are that code's redraw."""

import csv
import json
import shutil
from pathlib import Path

import pytest
from connlab_compare import diff, exports, journal, run

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "compare-run-v0"
KEPT = ("scenario", "python", "claim", "verdict", "ratio", "low", "high", "rounds", "client")


def verdicts(results):
    return [{key: verdict.get(key) for key in KEPT} for verdict in results["verdicts"]]


def schema_2(results):
    """The fixture as schema 2 wrote it: `target`, a schema number, no protocol."""
    for point in results["points"]:
        point["target"] = point.pop("arch")
    return {**results, "schema": 2}


@pytest.mark.parametrize("written", [lambda results: results, schema_2], ids=["unversioned", "schema-2"])
def test_an_old_run_redraws_with_the_same_verdicts(tmp_path, written):
    before = json.loads((FIXTURE / "results.json").read_text())
    (tmp_path / "results.json").write_text(json.dumps(written(json.loads((FIXTURE / "results.json").read_text()))))
    results, failure = run.draw(tmp_path)
    assert failure is None
    assert verdicts(results) == verdicts(before)
    assert results["schema"] == journal.SCHEMA and all("target" in p and "arch" not in p for p in results["points"])
    assert {p["protocol"] for p in results["points"]} == {v["protocol"] for v in results["verdicts"]} == {"resp"}
    assert results["machine"]["protocols"] == ["resp"] and results["not_run"] == []
    assert any(v["verdict"] == "yes" for v in verdicts(results)), "the fixture should hold a decided verdict"
    markdown = (tmp_path / "report.md").read_text()
    assert "spread" in markdown and "| scenario | build | protocol |" in markdown
    with open(tmp_path / exports.CSV, newline="") as file:
        assert {row["protocol"] for row in csv.DictReader(file)} == {"resp"}


def test_an_old_run_diffs_against_itself(tmp_path):
    (a, scenarios), (b, _) = (run.results_of(FIXTURE) for _ in range(2))
    assert diff.write(tmp_path / "diff", a, b, ["old", "old"], scenarios)
    assert "spread" in (tmp_path / "diff" / "report.md").read_text()
