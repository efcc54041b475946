"""`make compare`: every scenario against every architecture (and mode), each alone in a
fresh container on the same pinned CPUs, driven by the project's own load generator and
the C reference client; then results.json, figures, report.md and index.html in
results/compare/<UTC stamp>/. Points are journaled as they are measured: an interrupted
run draws as a partial report and can be resumed.

    python -m connlab_compare [--scenarios a,b] [--archs x,y] [--repeat 3] [--quick]
                              [--pythons 3.13,3.13t] [--set KEY=VALUE,...] [--out results/compare]
    python -m connlab_compare --resume results/compare/<stamp>
    python -m connlab_compare --redraw results/compare/<stamp>
"""

import os

os.environ.setdefault("LOCUST_SKIP_MONKEY_PATCH", "1")  # measure imports locust; this process uses threads

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import jsonschema  # noqa: E402
from connlab.config import cpu_set, variants  # noqa: E402

from . import journal, measure, report, runner, verdict  # noqa: E402
from .annotate import Annotations  # noqa: E402
from .lab import REDIS, Lab, LabError, docker, server_image  # noqa: E402
from .progress import Progress  # noqa: E402
from .scenarios import ScenarioError, load_all  # noqa: E402

QUICK_REPEAT = 2  # the least that shows a spread


def arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", default="", help="comma-separated; default: every file in experiments/")
    parser.add_argument("--archs", default="", help=f"comma-separated, from: {', '.join(variants())}, {REDIS}")
    parser.add_argument("--repeat", type=int, help=f"repetitions (default 3; {QUICK_REPEAT} with --quick)")
    parser.add_argument("--quick", action="store_true", help="short steps, fewer sweep points")
    parser.add_argument("--pythons", default="3.13", help="server builds: 3.13, 3.13t or both")
    parser.add_argument("--server-cpus", default=os.environ.get("SERVER_CPUS", "1"))
    parser.add_argument("--loadgen-cpus", default=os.environ.get("LOADGEN_CPUS", "0"))
    parser.add_argument("--set", default="", metavar="KEY=VALUE,...", help="server settings given to every server "
                        "(docs/operations.md), e.g. WORKER_NICE=0")
    parser.add_argument("--out", default="results/compare")
    parser.add_argument("--resume", metavar="DIR", help="carry on with an interrupted run: measure only its cells "
                        "that have no points yet, with the arguments it was started with")
    parser.add_argument("--redraw", metavar="DIR", help="measure nothing: redo the verdicts, figures and report "
                        "of an earlier run (after a change to experiments/, or to draw an interrupted one)")
    args = parser.parse_args()
    args.repeat = args.repeat or (QUICK_REPEAT if args.quick else 3)
    args.pythons = [p for p in args.pythons.replace(" ", ",").split(",") if p]
    args.settings = settings(args.set)
    return args


def settings(text):
    """{KEY: value} of "KEY=VALUE,..."."""
    found = {}
    for item in split(text):
        key, equals, value = item.partition("=")
        if not (equals and key.isupper()):
            sys.exit(f"connlab: compare: SETTINGS: {item!r} is not KEY=VALUE (e.g. WORKER_NICE=0)")
        found[key] = value
    return found


def split(text):
    return [item for item in text.split(",") if item]


def machine(args, scenarios, pythons_found):
    cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), platform.processor() or "unknown")  # fmt: skip
    return {
        "hostname": socket.gethostname(), "kernel": platform.release(), "cpu_model": cpu_model,
        "cpus": os.cpu_count(), "server_cpus": args.server_cpus, "loadgen_cpus": args.loadgen_cpus,
        "docker": docker("version", "--format", "{{.Server.Version}}"),
        "images": {image: docker("image", "inspect", "--format", "{{.Id}}", image) for image in images(args)},
        "pythons": args.pythons, "python_versions": pythons_found,
        "quick": args.quick, "repeat": args.repeat, "scenarios": [s.name for s in scenarios],
        "settings": args.settings,
    }  # fmt: skip


def images(args):
    return [*(server_image(p) for p in args.pythons), "connlab/loadgen:latest", "connlab/redis:latest"]


def context(results):
    """The fields a prediction's `why_not` may use."""
    return lambda python: {"gil": "disabled" if python == "3.13t" else "enabled", "python": python,
                           "server_cpus": len(cpu_set(results["machine"]["server_cpus"]))}  # fmt: skip


def results_of(folder):
    """(results, scenarios) of a run folder: from its journal, or an older run's results.json."""
    folder = Path(folder)
    try:
        if (folder / journal.RUN).exists():
            run, points = journal.read(folder)
            results = {"started": run["started"], "finished": run.get("finished"), "machine": run["machine"],
                       "points": points}  # fmt: skip
            cells = planned(run)
            done = journal.finished_cells(points, lambda cell: runner.expected(cell_scenario(cells, cell), cell[2]))
            missing = [c for c in cells if (c[0], c[1].name, c[2], c[3]) not in done]
            results["partial"] = f"{len(missing)} of {len(cells)} cells not measured" if missing else None
        else:
            results = json.loads((folder / journal.RESULTS).read_text())
            results.setdefault("partial", None)
            for point in results["points"]:
                point.setdefault("client", runner.LOCUST)
        scenarios = load_all(results["machine"]["scenarios"], quick=results["machine"]["quick"])
    except (OSError, ValueError, KeyError, ScenarioError) as exc:
        sys.exit(f"connlab: compare: cannot draw {folder}: {exc!r}; give a folder that `make compare` wrote")
    measure.derive(results["points"], scenarios)
    results["verdicts"] = verdict.verdicts(scenarios, results["points"], results["machine"]["pythons"], context(results))
    return results, scenarios


def planned(run):
    """The cells a run planned, as it planned them (run.json keeps them)."""
    asked = run["arguments"]
    if "cells" not in run:  # a run journaled before run.json kept its cells
        return runner.plan(asked["scenarios"], asked["archs"], asked["pythons"], asked["repeat"], asked["quick"])[1]
    scenarios = {s.name: s for s in load_all(asked["scenarios"], quick=asked["quick"])}
    return [(repeat, scenarios[name], arch, python) for repeat, name, arch, python in run["cells"]]


def cell_scenario(cells, cell):
    return next(scenario for _, scenario, _, _ in cells if scenario.name == cell[1])


def draw(folder):
    """Verdicts, figures and report of a run folder; a run that fails its schema is drawn
    too, marked partial, and the failure returned."""
    results, scenarios = results_of(folder)
    failure = None
    try:
        jsonschema.validate(results, report.schema())
    except jsonschema.ValidationError as exc:
        failure = f"results.json fails its schema at {'/'.join(map(str, exc.absolute_path))}: {exc.message}"
        results["partial"] = failure
    report.write(Path(folder), results, scenarios)
    return results, failure


def measure_run(args, folder, resumed):
    try:
        if resumed:  # the cells it planned, whatever the table of designs holds now
            scenarios, cells = None, planned(json.loads((folder / journal.RUN).read_text()))
        else:
            scenarios, cells = runner.plan(split(args.scenarios), split(args.archs), args.pythons, args.repeat, args.quick)
    except ScenarioError as exc:
        sys.exit(f"connlab: compare: {exc}")
    for image in images(args):
        if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode:
            sys.exit(f"connlab: compare: image {image} is missing; `make compare` builds it")
    log = journal.Journal(folder)
    points = journal.read(folder)[1] if resumed else []
    done = journal.finished_cells(points, lambda cell: runner.expected(cell_scenario(cells, cell), cell[2]))
    log.keep([point for mine in done.values() for point in mine])  # a cell cut short is measured again
    todo = [cell for cell in cells if (cell[0], cell[1].name, cell[2], cell[3]) not in done]
    progress = Progress(sum(len(runner.steps_of(scenario, arch)) for _, scenario, arch, _ in todo))
    annotations = Annotations()
    stopped = None
    try:
        with Lab(args.server_cpus, cpu_set(args.loadgen_cpus), folder / "logs") as lab:
            if not resumed:
                archs = sorted({arch for _, _, arch, _ in cells}, key=[*variants(), REDIS].index)
                run = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "arguments": asked(args, cells),
                       "cells": [[r, s.name, a, p] for r, s, a, p in cells],
                       "machine": machine(args, scenarios, runner.versions(lab, archs, args.pythons))}  # fmt: skip
                log.start(run)
            for cell in todo:
                repeat, scenario, arch, python = cell
                annotations.add(f"connlab compare: {scenario.name} on {arch} ({python}), repetition {repeat}",
                                ["connlab", "compare", scenario.name, arch])
                runner.run_cell(lab, cell, args.quick, progress, log, args.settings)
    except KeyboardInterrupt:
        stopped = "interrupted"
    except (LabError, subprocess.TimeoutExpired) as exc:
        stopped = str(exc)
    progress.finish()
    if not (folder / journal.RUN).exists():
        sys.exit(f"\nconnlab: compare: {stopped}; nothing was measured")
    if not stopped:
        run = json.loads((folder / journal.RUN).read_text())
        log.start({**run, "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())})
    return stopped


def asked(args, cells):
    """What the run was asked, spelled out (run.json also keeps its cells: a later table
    of designs or scenario folder may hold more, and RESUME must measure the same)."""
    return {"scenarios": list(dict.fromkeys(scenario.name for _, scenario, _, _ in cells)),
            "archs": list(dict.fromkeys(arch for _, _, arch, _ in cells)), "pythons": args.pythons,
            "repeat": args.repeat, "quick": args.quick, "server_cpus": args.server_cpus,
            "loadgen_cpus": args.loadgen_cpus, "settings": args.settings, "command": " ".join(["python -m connlab_compare", *sys.argv[1:]])}  # fmt: skip


def resume(args):
    """The arguments an interrupted run was started with, and its folder."""
    folder = Path(args.resume)
    try:
        started = json.loads((folder / journal.RUN).read_text())["arguments"]
    except (OSError, ValueError, KeyError) as exc:
        sys.exit(f"connlab: compare: cannot resume {folder}: {exc!r}; give a folder that `make compare` started")
    for key in ("repeat", "quick", "pythons", "server_cpus", "loadgen_cpus"):
        setattr(args, key, started[key])
    args.scenarios, args.archs = ",".join(started["scenarios"]), ",".join(started["archs"])
    args.settings = started.get("settings", {})
    return folder


def interrupt(signum, frame):
    raise KeyboardInterrupt  # `kill` stops a run as Ctrl-C does: what was measured is drawn


def main():
    signal.signal(signal.SIGTERM, interrupt)
    args = arguments()
    if args.redraw:
        results, failure = draw(args.redraw)
        print(f"connlab: compare: report redrawn in {args.redraw}/" + (" (partial)" if results["partial"] else ""))
        sys.exit(f"connlab: compare: {failure}" if failure else 0)
    resumed = bool(args.resume)
    folder = resume(args) if resumed else Path(args.out) / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    stopped = measure_run(args, folder, resumed)
    results, failure = draw(folder)
    if stopped or failure:
        sys.exit(f"\nconnlab: compare: {stopped or failure}; a partial report is in {folder}/; "
                 f"carry on with: make compare RESUME={folder}")  # fmt: skip
    print(f"connlab: compare: report in {folder}/ (index.html, report.md, results.json, points.jsonl, *.png)")


if __name__ == "__main__":
    main()
