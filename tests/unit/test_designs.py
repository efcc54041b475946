"""The table of designs is the one place a design is named: a record added to it is
picked up by the settings, the wiring, the lab's list of variants, the benchmarks and
the experiments, with no other line of Python."""

import sys
from pathlib import Path

import pytest

from connlab import architectures, designs
from connlab.config import Settings, variants

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import scaling  # noqa: E402

from connlab_compare import runner  # noqa: E402

TEST_ONLY = designs.Design("single-acceptor/test-only", "single-acceptor", "single_acceptor", "test: round robin",
                           mode={"WORKER_MODEL": "pool", "DISPATCH": "test-only"})  # fmt: skip


@pytest.fixture
def grown(monkeypatch):
    monkeypatch.setattr(designs, "DESIGNS", (*designs.DESIGNS, TEST_ONLY))


def test_a_new_record_is_all_that_naming_a_design_needs(grown):
    assert variants()["single-acceptor/test-only"] == ("single-acceptor", {"WORKER_MODEL": "pool", "DISPATCH": "test-only"})
    settings = Settings.from_env({"ARCH": "single-acceptor", "DISPATCH": "test-only"})
    assert settings.design is TEST_ONLY and settings.describe()["dispatch"] == "test-only"
    assert architectures.wiring(settings.design) is architectures.single_acceptor
    _, cells = runner.plan(["spread"], ["single-acceptor/test-only"], ["3.13"], 1, True)  # the experiments' list
    assert [cell.target for cell in cells] == ["single-acceptor/test-only"]
    bench = (ROOT / "benchmarks/bench_server.py").read_text()
    assert "design_targets()" in bench and "single-acceptor" not in bench  # it names none: it takes the table's


def test_every_record_is_consistent():
    names = [design.name for design in designs.DESIGNS]
    assert len(names) == len(set(names))
    for design in designs.DESIGNS:
        assert callable(architectures.wiring(design)), design.name
        assert design.name == design.arch or design.name.startswith(f"{design.arch}/")
        assert designs.of(design.arch, design.mode) is design
        assert design.processes in (None, "WORKERS", "PROCESSES")
        settings = Settings.from_env({"ARCH": design.arch, **variants()[design.name][1]})
        assert settings.design is design
    assert scaling.threads_per_process("hybrid") == {"WORKERS": "2"} and scaling.threads_per_process("socket-sharding") == {}


def test_each_arch_default_is_its_first_record():
    for arch in designs.architectures():
        assert Settings.from_env({"ARCH": arch}).design is next(d for d in designs.DESIGNS if d.arch == arch)
