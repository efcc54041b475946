"""`make compare`: every scenario against every architecture (and mode), each alone in a
fresh container on the same pinned CPUs, driven by the project's own load generator and
the C reference client; then results.json, figures, report.md and index.html in
results/compare/<UTC stamp>/. Points are journaled as they are measured: an interrupted
run draws as a partial report and can be resumed.

    python -m connlab_compare [--scenarios a,b] [--targets x,y] [--protocols resp,http] [--repeat 3] [--quick]
                              [--budget MIN] [--pythons 3.13,3.13t] [--set KEY=VALUE,...] [--out results/compare]
    python -m connlab_compare --resume results/compare/<stamp>
    python -m connlab_compare --redraw results/compare/<stamp>
    python -m connlab_compare --diff results/compare/<A> results/compare/<B>
"""

import os

os.environ.setdefault("LOCUST_SKIP_MONKEY_PATCH", "1")  # measure imports locust; this process uses threads

import argparse  # noqa: E402
import json  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from . import diff, journal, run, speaking, targets  # noqa: E402
from .scenarios import ScenarioError  # noqa: E402

QUICK_REPEAT = 2  # the least that shows a spread
QUICK_BUDGET, BUDGET = 4.0, 20.0  # minutes of further rounds for predictions still inconclusive


def arguments():
    parser = argparse.ArgumentParser(prog="connlab compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", default="", help="comma-separated; default: every file in experiments/")
    parser.add_argument("--targets", "--archs", dest="targets", default="",
                        help=f"designs and references, comma-separated, from: {', '.join(targets.all_targets())}")
    parser.add_argument("--protocols", default="", help="what the load speaks, comma-separated (default "
                        f"{','.join(speaking.DEFAULT)}), from the server's: {', '.join(speaking.known())}")
    parser.add_argument("--repeat", type=int, help=f"repetitions (default 3; {QUICK_REPEAT} with --quick)")
    parser.add_argument("--quick", action="store_true", help="short steps, fewer sweep points")
    parser.add_argument("--budget", type=minutes, help=f"minutes for further rounds of the cells of predictions still "
                        f"inconclusive after the planned ones (default {BUDGET:g}; {QUICK_BUDGET:g} with --quick; 0: none)")
    parser.add_argument("--pythons", default="3.13", help="server builds: 3.13, 3.13t or both")
    parser.add_argument("--server-cpus", default=os.environ.get("SERVER_CPUS", "1"))
    parser.add_argument("--loadgen-cpus", default=os.environ.get("LOADGEN_CPUS", "0"))
    parser.add_argument("--server-engine", default=os.environ.get("SERVER_ENGINE", ""), metavar="ssh://|tcp://|unix://",
                        help="the Docker engine of another machine that runs the servers (the load stays on this "
                        "one's); with --server-address")
    parser.add_argument("--server-address", default=os.environ.get("SERVER_ADDRESS", ""),
                        help="the server engine's machine, as the load generator here reaches it")
    parser.add_argument("--set", default="", metavar="KEY=VALUE,...", help="server settings given to every server "
                        "(docs/operations.md), e.g. WORKER_NICE=0")
    parser.add_argument("--out", default="results/compare")
    parser.add_argument("--prometheus", default="auto", metavar="auto|off|CONTAINER",
                        help="which Prometheus scrapes the run (scrape.py): auto, the stack's if it runs, else "
                        "one started for the run on the stack's data; off; or a container that mounts the targets folder")
    parser.add_argument("--resume", metavar="DIR", help="carry on with an interrupted run: measure only its cells "
                        "that have no points yet, with the arguments it was started with")
    parser.add_argument("--diff", nargs=2, metavar=("A", "B"), help="measure nothing: run B against run A "
                        "(diff.py), into results/compare/diff-<A>-<B>/")
    parser.add_argument("--redraw", metavar="DIR", help="measure nothing: redo the verdicts, figures and report "
                        "of an earlier run (after a change to experiments/, or to draw an interrupted one)")
    args = parser.parse_args()
    args.repeat = args.repeat or (QUICK_REPEAT if args.quick else 3)
    if args.budget is None:
        args.budget = QUICK_BUDGET if args.quick else BUDGET
    args.pythons = [p for p in args.pythons.replace(" ", ",").split(",") if p]
    try:
        args.protocols = speaking.check(run.split(args.protocols.replace(" ", ",")) or list(speaking.DEFAULT))
    except ScenarioError as exc:
        parser.exit(2, f"connlab: compare: PROTOCOLS: {exc}\n")
    args.settings = settings(args.set)
    if bool(args.server_engine) != bool(args.server_address):
        parser.exit(2, "connlab: compare: SERVER_ENGINE and SERVER_ADDRESS go together: the engine that runs the servers "
                       "(e.g. ssh://user@server) and that machine's address as the load generator reaches it\n")
    return args


def minutes(text):
    """BUDGET: minutes, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"BUDGET={text!r} is not a number of minutes (0 or more; 0: no further rounds)")
    return value


def settings(text):
    """{KEY: value} of "KEY=VALUE,..."."""
    found = {}
    for item in run.split(text):
        key, equals, value = item.partition("=")
        if not (equals and key.isupper()):
            sys.exit(f"connlab: compare: SETTINGS: {item!r} is not KEY=VALUE (e.g. WORKER_NICE=0)")
        found[key] = value
    return found


def resume(args):
    """The arguments an interrupted run was started with, and its folder."""
    folder = Path(args.resume)
    try:
        started = json.loads((folder / journal.RUN).read_text())["arguments"]
    except (OSError, ValueError, KeyError) as exc:
        sys.exit(f"connlab: compare: cannot resume {folder}: {exc!r}; give a folder that `make compare` started")
    for key in ("repeat", "quick", "pythons", "server_cpus", "loadgen_cpus"):
        setattr(args, key, started[key])
    args.server_engine, args.server_address = started.get("server_engine", ""), started.get("server_address", "")
    args.protocols = journal.protocols_asked(started)
    args.budget = started.get("budget", 0.0)  # a run started before budgets had none
    args.scenarios, args.targets = ",".join(started["scenarios"]), ",".join(journal.targets_asked(started))
    args.settings = started.get("settings", {})
    return folder


def interrupt(signum, frame):
    raise KeyboardInterrupt  # `kill` stops a run as Ctrl-C does: what was measured is drawn


def main():
    signal.signal(signal.SIGTERM, interrupt)
    args = arguments()
    if args.diff:
        (a, scenarios), (b, _) = (run.results_of(folder) for folder in args.diff)
        names = [Path(folder).resolve().name for folder in args.diff]
        out = Path(args.diff[1]).resolve().parent / f"diff-{names[0]}-{names[1]}"
        if not diff.write(out, a, b, names, scenarios):
            sys.exit(f"connlab: compare-diff: {names[0]} and {names[1]} have no cell in common (scenario, step, design)")
        print(f"connlab: compare-diff: report in {out}/ (index.html, report.md, *-diff.png)")
        return
    if args.redraw:
        results, failure = run.draw(args.redraw)
        print(f"connlab: compare: report redrawn in {args.redraw}/" + (" (partial)" if results["partial"] else ""))
        sys.exit(f"connlab: compare: {failure}" if failure else 0)
    resumed = bool(args.resume)
    folder = resume(args) if resumed else Path(args.out) / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    stopped = run.measure_run(args, folder, resumed)
    results, failure = run.draw(folder)
    if stopped or failure:
        sys.exit(f"\nconnlab: compare: {stopped or failure}; a partial report is in {folder}/; "
                 f"carry on with: make compare RESUME={folder}")  # fmt: skip
    print(f"connlab: compare: report in {folder}/ (index.html, report.md, results.json, points.jsonl, *.png)")


if __name__ == "__main__":
    main()
