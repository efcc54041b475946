"""`make compare`: every scenario against every architecture (and mode), each alone in a
fresh container on the same pinned CPUs, driven by the project's own load generator;
then results.json, figures, report.md and index.html in results/compare/<UTC stamp>/.

    python -m connlab_compare [--scenarios a,b] [--archs x,y] [--repeat 3] [--quick]
                              [--pythons 3.13,3.13t] [--out results/compare]
    python -m connlab_compare --redraw results/compare/<stamp>
"""

import os

os.environ.setdefault("LOCUST_SKIP_MONKEY_PATCH", "1")  # measure imports locust; this process uses threads

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import jsonschema  # noqa: E402
from connlab.config import cpu_set, variants  # noqa: E402

from . import measure, report, verdict  # noqa: E402
from .annotate import Annotations  # noqa: E402
from .lab import REDIS, Lab, LabError, docker, server_image  # noqa: E402
from .progress import Progress  # noqa: E402
from .scenarios import ScenarioError, load_all  # noqa: E402


def arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", default="", help="comma-separated; default: every file in experiments/")
    parser.add_argument("--archs", default="", help=f"comma-separated, from: {', '.join(variants())}, {REDIS}")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one short repetition of every scenario")
    parser.add_argument("--pythons", default="3.13", help="server builds: 3.13, 3.13t or both")
    parser.add_argument("--server-cpus", default=os.environ.get("SERVER_CPUS", "1"))
    parser.add_argument("--loadgen-cpus", default=os.environ.get("LOADGEN_CPUS", "0"))
    parser.add_argument("--out", default="results/compare")
    parser.add_argument("--redraw", metavar="DIR", help="measure nothing: redo the verdicts, figures and report "
                        "of an earlier run from DIR/results.json (after a change to experiments/)")
    args = parser.parse_args()
    args.repeat = 1 if args.quick else args.repeat
    args.pythons = [p for p in args.pythons.replace(" ", ",").split(",") if p]
    return args


def plan(args):
    try:
        scenarios = load_all([s for s in args.scenarios.split(",") if s] or None, quick=args.quick)
    except ScenarioError as exc:
        sys.exit(f"connlab: compare: {exc}")
    known = [*variants(), REDIS]
    archs = [a for a in args.archs.split(",") if a] or known
    bad = [a for a in archs if a not in known] + [p for p in args.pythons if p not in ("3.13", "3.13t")]
    if bad:
        sys.exit(f"connlab: compare: unknown {', '.join(bad)}; architectures: {', '.join(known)}; pythons: 3.13, 3.13t")
    cells = []
    for repeat in range(1, args.repeat + 1):
        for scenario in scenarios:
            for arch in archs:
                if arch == REDIS:
                    if scenario.redis:
                        cells.append((repeat, scenario, arch, "C"))
                    continue
                cells += [(repeat, scenario, arch, python) for python in args.pythons]
    return scenarios, cells


def step_requests(lab, scenario, step, address, arch, quick):
    """The step as each agent's share: users (and rates) split over the agents."""
    count = len(lab.agents)
    requests = []
    for index in range(count):
        groups = []
        for group in step.groups:
            users = group["users"] // count + (index < group["users"] % count)
            parameters = dict(group.get("parameters", {}))
            if parameters.get("rate") and group["users"]:
                parameters["rate"] = parameters["rate"] * users / group["users"]
            if arch == REDIS:
                parameters["dialect"] = "redis"
            groups.append({"users": users, "parameters": parameters})
        requests.append({"step": {
            "host": address, "groups": groups, "warmup": scenario.warmup(quick), "duration": scenario.duration(quick),
            "spawn_rate": scenario.timing["spawn_rate"], "scrape": scrape_source(scenario, arch) if index == 0 else None,
        }})  # fmt: skip
    return requests


def scrape_source(scenario, arch):
    if not scenario.server_figures:
        return None
    return "tcp://target:6379 INFO memory" if arch == REDIS else "http://target:8000/metrics"


def run_cell(lab, scenario, arch, python, repeat, quick, progress):
    """Every step of `scenario` on a fresh `arch` server; its points."""
    address = lab.start_server(arch, python, scenario.server_settings)
    points, baseline = [], None
    for step in scenario.steps:
        if arch == REDIS and not step.redis:
            continue
        progress.show(scenario.name, arch, python, step.label, repeat)
        replies = lab.ask_all(step_requests(lab, scenario, step, address, arch, quick))
        figures = measure.point_metrics(replies, scenario.measure)
        texts = replies[0]["metrics"]
        if scenario.server_figures == "spread" and arch != REDIS:
            figures.update(measure.spread(texts["before"], texts["after"]))
        elif scenario.server_figures == "resources":
            held = measure.server_resources(texts["after"])
            if baseline is None:
                baseline = held
            else:
                figures.update(measure.per_connection(baseline, held, step.x))
        points.append({"scenario": scenario.name, "arch": arch, "python": python, "step": step.label,
                       "base": step.base, "x": step.x, "repeat": repeat, "metrics": figures})  # fmt: skip
        progress.done()
    if scenario.sweep == "rate":
        points[-1]["metrics"]["sustained_rate"] = measure.sustained_rate(points, scenario.knee_ms)
    return points


def versions(lab, archs, pythons):
    """What each server build runs: its INFO's python and gil lines."""
    found = {}
    for python in pythons:
        address = lab.start_server(next(a for a in archs if a != REDIS), python, {})
        info = lab.ask_all([{"probe": address, "command": ["INFO"]}])[0]["reply"]
        fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
        found[python] = f"Python {fields.get('python')}, GIL {fields.get('gil')}"
    lab.stop_server()
    return found


def machine(args, scenarios, pythons_found):
    cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), platform.processor() or "unknown")  # fmt: skip
    images = [*(server_image(p) for p in args.pythons), "connlab/loadgen:latest", "connlab/redis:latest"]
    return {
        "hostname": socket.gethostname(), "kernel": platform.release(), "cpu_model": cpu_model,
        "cpus": os.cpu_count(), "server_cpus": args.server_cpus, "loadgen_cpus": args.loadgen_cpus,
        "docker": docker("version", "--format", "{{.Server.Version}}"),
        "images": {image: docker("image", "inspect", "--format", "{{.Id}}", image) for image in images},
        "pythons": args.pythons, "python_versions": pythons_found,
        "quick": args.quick, "repeat": args.repeat, "scenarios": [s.name for s in scenarios],
    }  # fmt: skip


def context(results):
    """The fields a prediction's `why_not` may use."""
    return lambda python: {"gil": "disabled" if python == "3.13t" else "enabled", "python": python,
                           "server_cpus": len(cpu_set(results["machine"]["server_cpus"]))}  # fmt: skip


def redraw(folder):
    folder = Path(folder)
    try:
        results = json.loads((folder / "results.json").read_text())
        machine = results["machine"]
        scenarios = load_all(machine["scenarios"], quick=machine["quick"])
    except (OSError, ValueError, KeyError, ScenarioError) as exc:
        sys.exit(f"connlab: compare: cannot redraw {folder}: {exc!r}; give a folder that `make compare` wrote")
    results["verdicts"] = verdict.verdicts(scenarios, results["points"], machine["pythons"], context(results))
    jsonschema.validate(results, report.schema())
    report.write(folder, results, scenarios)
    print(f"connlab: compare: report redrawn in {folder}/")


def main():
    args = arguments()
    if args.redraw:
        return redraw(args.redraw)
    scenarios, cells = plan(args)
    for image in {*(server_image(p) for p in args.pythons), "connlab/loadgen:latest", "connlab/redis:latest"}:
        if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode:
            sys.exit(f"connlab: compare: image {image} is missing; `make compare` builds it")
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = Path(args.out) / stamp
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    progress = Progress(sum(sum(arch != REDIS or step.redis for step in scenario.steps) for _, scenario, arch, _ in cells))
    annotations = Annotations()
    points = []
    try:
        with Lab(args.server_cpus, cpu_set(args.loadgen_cpus), out / "logs") as lab:
            archs = sorted({arch for _, _, arch, _ in cells}, key=[*variants(), REDIS].index)
            found = versions(lab, archs, args.pythons) if any(a != REDIS for a in archs) else {}
            if REDIS in archs:
                found["C"] = "redis-server (C)"
            for repeat, scenario, arch, python in cells:
                annotations.add(f"connlab compare: {scenario.name} on {arch} ({python}), repetition {repeat}",
                                ["connlab", "compare", scenario.name, arch])
                points += run_cell(lab, scenario, arch, python, repeat, args.quick, progress)
    except (LabError, subprocess.TimeoutExpired) as exc:
        sys.exit(f"\nconnlab: compare: {exc}")
    progress.finish()
    results = {"started": started, "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "machine": machine(args, scenarios, found), "points": points}  # fmt: skip
    results["verdicts"] = verdict.verdicts(scenarios, points, args.pythons, context(results))
    jsonschema.validate(results, report.schema())
    report.write(out, results, scenarios)
    print(f"connlab: compare: report in {out}/ (index.html, report.md, results.json, *.png)")


if __name__ == "__main__":
    main()
