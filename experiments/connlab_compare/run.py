"""Running a comparison: the cells of a run measured in the lab, each point journaled,
then its verdicts, figures and report drawn (and drawn again, for `--redraw` and
`--diff`, from what the journal or results.json holds). The command line is __main__.py."""

import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
from connlab.config import cpu_set, variants

from . import exports, journal, measure, report, runner, verdict
from .annotate import Annotations
from .lab import TAG, Lab, LabError, docker, server_image
from .progress import Progress
from .reference import REFERENCES
from .scrape import Scrape
from .scenarios import DIRECTORY as SCENARIO_DIRECTORY
from .scenarios import ScenarioError, load_all


def split(text):
    return [item for item in text.split(",") if item]


def machine(args, scenarios, pythons_found, scraped_by):
    cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), platform.processor() or "unknown")  # fmt: skip
    return {
        "hostname": socket.gethostname(), "kernel": platform.release(), "cpu_model": cpu_model,
        "cpus": os.cpu_count(), "server_cpus": args.server_cpus, "loadgen_cpus": args.loadgen_cpus,
        "docker": docker("version", "--format", "{{.Server.Version}}"),
        "images": {image: docker("image", "inspect", "--format", "{{.Id}}", image) for image in images(args)},
        "packages": {image: exports.packages(image) for image in images(args) if "/redis:" not in image},
        **exports.provenance(scenario_files(scenarios)),
        "pythons": args.pythons, "python_versions": pythons_found,
        "quick": args.quick, "repeat": args.repeat, "scenarios": [s.name for s in scenarios],
        "settings": args.settings, "scraped_by": scraped_by,
    }  # fmt: skip


def scenario_files(scenarios):
    return [SCENARIO_DIRECTORY / f"{scenario.name}.toml" for scenario in scenarios]


def images(args):
    return [*(server_image(p) for p in args.pythons), f"connlab/loadgen:{TAG}", f"connlab/redis:{TAG}"]


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
        with Lab(args.server_cpus, cpu_set(args.loadgen_cpus), folder / "logs") as lab, \
                Scrape(lab, folder.name, args.prometheus) as scrape:
            if not resumed:
                archs = sorted({arch for _, _, arch, _ in cells}, key=[*variants(), *REFERENCES].index)
                run = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "arguments": asked(args, cells),
                       "cells": [[r, s.name, a, p] for r, s, a, p in cells],
                       "machine": machine(args, scenarios, runner.versions(lab, archs, args.pythons), scrape.container)}  # fmt: skip
                log.start(run)
            for cell in todo:
                repeat, scenario, arch, python = cell
                annotations.add(f"connlab compare: {scenario.name} on {arch} ({python}), repetition {repeat}",
                                ["connlab", "compare", scenario.name, arch])
                scrape.describe(cell)
                runner.run_cell(lab, cell, args.quick, progress, log, args.settings)
                scrape.wait_seen()
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
