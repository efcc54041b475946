"""Running a comparison: the cells of a run measured in the lab, each point journaled,
then its verdicts, figures and report drawn (and drawn again, for `--redraw` and
`--diff`, from what the journal or results.json holds). The command line is __main__.py."""

import json
import os
import platform
import socket
import sys
import time
from collections import defaultdict
from pathlib import Path

import jsonschema
from connlab.config import cpu_set, server_image

from . import containers, exports, journal, measure, reference_client, report, runner, targets, verdict
from .annotate import Annotations
from .clients import RedisBenchmark
from .journal import Cell
from .lab import Lab, LabError
from .progress import Progress
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
        "docker": containers.version(),
        "images": {image: containers.image_id(image) for image in images(args)},
        **({"server_engine": server_engine(args)} if args.server_engine else {}),
        "packages": {image: exports.packages(image) for image in python_images(args)},
        **exports.provenance(scenario_files(scenarios)),
        "pythons": args.pythons, "python_versions": pythons_found, "protocols": args.protocols,
        "quick": args.quick, "repeat": args.repeat, "scenarios": [s.name for s in scenarios],
        "settings": args.settings, "scraped_by": scraped_by,
    }  # fmt: skip


def scenario_files(scenarios):
    return [SCENARIO_DIRECTORY / f"{scenario.name}.toml" for scenario in scenarios]


def server_engine(args):
    """The machine whose engine runs the servers: its address, and what the engine says
    of it (its CPU model is read where a server runs: /proc/cpuinfo is the machine's)."""
    found = containers.info(args.server_engine)
    return {"engine": args.server_engine, "address": args.server_address, "hostname": found["Name"],
            "kernel": found["KernelVersion"], "cpus": found["NCPU"], "docker": found["ServerVersion"],
            "images": {image: containers.image_id(image, args.server_engine) for image in server_images(args)}}  # fmt: skip


def python_images(args):
    """The images of connlab's Python code: the servers' builds and the load generator."""
    return [*(server_image(p, targets.tag()) for p in args.pythons), targets.image("loadgen")]


def server_images(args):
    """The images the servers' machine runs: the server builds, the references chosen and
    the calibration's."""
    chosen = [targets.get(name) for name in split(args.targets)] or targets.references().values()
    own = {target.image for target in chosen if target.reference} | {targets.get(runner.CALIBRATION_REFERENCE).image}
    return [*(server_image(p, targets.tag()) for p in args.pythons), *map(targets.image, sorted(own))]


def images(args):
    """Every image a run needs: connlab's, every reference's it runs, the C clients'
    (redis-benchmark's for the calibration, whatever the protocols)."""
    chosen = [targets.get(name) for name in split(args.targets)] or targets.references().values()
    c_clients = {RedisBenchmark, *filter(None, map(reference_client.client, args.protocols))}
    own = {target.image for target in chosen if target.reference} | {client.image for client in c_clients}
    return list(dict.fromkeys([*python_images(args), *map(targets.image, sorted(own))]))  # a C client may be in connlab's


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
            results = {"schema": journal.SCHEMA, "started": run["started"], "finished": run.get("finished"), "machine": run["machine"],
                       "points": points, "not_run": run.get("not_run", [])}  # fmt: skip
            results["machine"].setdefault("protocols", journal.protocols_asked(run["arguments"]))
            cells, by_name = planned(run)
            done = journal.finished_cells(points, lambda cell: runner.expected(by_name[cell.scenario], cell))
            missing = [cell for cell in cells if cell not in done]
            results["partial"] = f"{len(missing)} of {len(cells)} cells not measured" if missing else None
        else:
            results = json.loads((folder / journal.RESULTS).read_text())
            results.setdefault("partial", None)
            results["schema"] = journal.SCHEMA  # its points are upgraded below
            results["machine"].setdefault("protocols", [journal.OLD_PROTOCOL])
            results.setdefault("not_run", [])
            for point in results["points"]:
                journal.upgraded(point).setdefault("client", runner.LOCUST)
        scenarios = load_all(results["machine"]["scenarios"], quick=results["machine"]["quick"])
    except (OSError, ValueError, KeyError, ScenarioError) as exc:
        sys.exit(f"connlab: compare: cannot draw {folder}: {exc!r}; give a folder that `make compare` wrote")
    measure.derive(results["points"], scenarios)
    results["verdicts"] = verdict.verdicts(scenarios, results["points"], results["machine"]["pythons"], context(results),
                                           results["machine"]["protocols"])  # fmt: skip
    return results, scenarios


def planned(run):
    """(cells, {name: scenario}) a run planned, as it planned them (run.json keeps them)."""
    asked = run["arguments"]
    if "cells" not in run:  # a run journaled before run.json kept its cells
        scenarios, cells = runner.plan(asked["scenarios"], journal.targets_asked(asked), asked["pythons"], asked["repeat"],
                                       asked["quick"], journal.protocols_asked(asked))  # fmt: skip
    else:
        scenarios = load_all(asked["scenarios"], quick=asked["quick"])
        cells = [Cell.from_json(cell) for cell in run["cells"]]
    return cells, {scenario.name: scenario for scenario in scenarios}


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
            cells, by_name = planned(json.loads((folder / journal.RUN).read_text()))
            scenarios = list(by_name.values())
        else:
            scenarios, cells = runner.plan(split(args.scenarios), split(args.targets), args.pythons, args.repeat, args.quick,
                                           args.protocols)  # fmt: skip
            by_name = {scenario.name: scenario for scenario in scenarios}
            left_out = runner.not_run(scenarios, split(args.targets), args.protocols)
    except (ScenarioError, KeyError) as exc:
        sys.exit(f"connlab: compare: {exc}")
    try:
        missing = [image for image in images(args) if containers.image_id(image) is None]
        elsewhere = [image for image in server_images(args) if args.server_engine
                     and containers.image_id(image, args.server_engine) is None]  # fmt: skip
    except containers.ContainerError as exc:
        sys.exit(f"connlab: compare: {exc}")
    if missing:
        sys.exit(f"connlab: compare: image {missing[0]} is missing; `make compare` builds it")
    if elsewhere:
        sys.exit(f"connlab: compare: image {elsewhere[0]} is not on the server's engine {args.server_engine}: copy each "
                 f"there (docker save {' '.join(elsewhere)} | docker -H {args.server_engine} load)")
    log = journal.Journal(folder)
    points = journal.read(folder)[1] if resumed else []
    done = journal.finished_cells(points, lambda cell: runner.expected(by_name[cell.scenario], cell))
    log.keep([point for mine in done.values() for point in mine])  # a cell cut short is measured again
    todo = [cell for cell in cells if cell not in done]
    progress = Progress(sum(len(runner.steps_of(by_name[cell.scenario], cell.target, cell.protocol)) for cell in todo))
    annotations = Annotations()
    stopped = None
    took = {}  # (scenario, arch, build, protocol): seconds its last cell took

    def measure_cell(lab, scrape, cell):
        annotations.add(f"connlab compare: {cell.scenario} on {cell.target} ({cell.python}, {cell.protocol}), "
                        f"repetition {cell.repeat}", ["connlab", "compare", cell.scenario, cell.target, cell.protocol])
        scrape.describe(cell)
        started = time.monotonic()
        runner.run_cell(lab, cell, by_name[cell.scenario], args.quick, progress, log, args.settings)
        scrape.wait_seen()
        took[cell.scenario, cell.target, cell.python, cell.protocol] = time.monotonic() - started

    try:
        with Lab(args.server_cpus, cpu_set(args.loadgen_cpus), folder / "logs", args.server_engine or None,
                 args.server_address or None) as lab, \
                Scrape(lab, folder.name, args.prometheus) as scrape:
            if not resumed:
                archs = sorted({cell.target for cell in cells}, key=list(targets.all_targets()).index)
                run = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "arguments": asked(args, cells),
                       "cells": [cell.to_json() for cell in cells], "not_run": left_out,
                       "machine": machine(args, scenarios, runner.versions(lab, archs, args.pythons), scrape.container)}  # fmt: skip
                log.start(run)
            calibrate(lab, folder, log, "resumed" if resumed else "start")
            for cell in todo:
                measure_cell(lab, scrape, cell)
            for cell in more_rounds(folder, log, cells, by_name, took, args.budget * 60, progress):
                measure_cell(lab, scrape, cell)
            calibrate(lab, folder, log, "end")
    except KeyboardInterrupt:
        stopped = "interrupted"
    except (LabError, containers.ContainerError) as exc:
        stopped = str(exc)
    progress.finish()
    if not (folder / journal.RUN).exists():
        sys.exit(f"\nconnlab: compare: {stopped}; nothing was measured")
    if not stopped:
        update_run(folder, log, lambda run: run.update(finished=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())))
    return stopped


def update_run(folder, log, change):
    run = json.loads((folder / journal.RUN).read_text())
    change(run)
    log.start(run)


def calibrate(lab, folder, log, when):
    """A calibration reading of the machine's speed, kept in run.json's machine."""
    reading = runner.calibrate(lab, when)
    update_run(folder, log, lambda run: run["machine"].setdefault("calibration", []).append(reading))


def more_rounds(folder, log, cells, by_name, took, budget, progress):
    """The cells of further rounds, one round at a time, while a prediction is still
    inconclusive and its next round fits in the `budget` (seconds, from now): every
    design such a prediction reads, on the builds it reads, measured again in a round
    of its own (paired as the planned rounds are). Each round joins run.json's cells
    before it is measured."""
    deadline = time.monotonic() + budget
    builds = defaultdict(set)
    for cell in cells:
        builds[cell.scenario, cell.target, cell.protocol].add(cell.python)
    rounds = max((cell.repeat for cell in cells), default=0)
    while budget > 0:
        results, _ = results_of(folder)
        wanted = []
        for row in results["verdicts"]:
            if row["verdict"] != "inconclusive":
                continue
            for arch, python in verdict.reads(row, by_name[row["scenario"]]):
                found = builds.get((row["scenario"], arch, row["protocol"]), set())
                for build in [python] if python in found else sorted(found - set(targets.PYTHONS)):  # a reference's own
                    if (row["scenario"], arch, build, row["protocol"]) not in wanted:
                        wanted.append((row["scenario"], arch, build, row["protocol"]))
        if not wanted:
            return
        left = deadline - time.monotonic()
        if sum(took.get(key, left) for key in wanted) > left:
            progress.note(f"budget: {len(wanted)} cells of inconclusive predictions do not fit in the "
                          f"{max(left, 0) / 60:.1f} min left: no round {rounds + 1}")  # fmt: skip
            return
        rounds += 1
        round_cells = [Cell(rounds, *key) for key in wanted]
        progress.note(f"round {rounds}: {len(round_cells)} cells of predictions still inconclusive")
        progress.add(sum(len(runner.steps_of(by_name[cell.scenario], cell.target, cell.protocol)) for cell in round_cells))
        cells += round_cells
        update_run(folder, log, lambda run: run["cells"].extend(cell.to_json() for cell in round_cells))
        yield from round_cells


def asked(args, cells):
    """What the run was asked, spelled out (run.json also keeps its cells: a later table
    of designs or scenario folder may hold more, and RESUME must measure the same)."""
    return {"scenarios": list(dict.fromkeys(cell.scenario for cell in cells)),
            "targets": list(dict.fromkeys(cell.target for cell in cells)), "pythons": args.pythons,
            "protocols": args.protocols,
            "repeat": args.repeat, "budget": args.budget, "quick": args.quick, "server_cpus": args.server_cpus,
            "loadgen_cpus": args.loadgen_cpus, "settings": args.settings, "server_engine": args.server_engine,
            "server_address": args.server_address, "command": " ".join(["python -m connlab_compare", *sys.argv[1:]])}  # fmt: skip
