"""The model against a `make compare` run: the lab's own measurements on one and two
server CPUs, in the run's report.

Each design's cost per request is read from the run itself, per command: at the first
closed-loop step of that command on the run's server CPUs (throughput's `PING` and
`ECHO`, cpu-bound's `WORK`), the CPU the server used per request served (its cgroup's
CPU over its requests/s), less what the command computes (`WORK`'s microseconds): what
reading, parsing, dispatching and replying cost around it. Every other closed-loop step
with one kind of request (one group of users, persistent connections, no pipelining, no
rate) is then simulated with the step's connections, the run's server CPUs (every CPU
where the scenario says `server_cpus = "all"`), the design's WORKERS and PROCESSES and
the build, beside the measured requests/s and p99. The model has no network and no
client: a step whose client was the limit is shown and not judged, and a p99 it gives
is the server's queue alone.
"""

import statistics
from typing import NamedTuple

from connlab import designs
from connlab.config import cpu_set
from connlab_compare.verdict import MARGIN

from .wiring import Load, simulate

RPS_GOAL = 0.15  # throughput within 15 % of the measurement
P99_GOAL = 2.0  # p99 within 2×
CORES = (1, 2, 4, 8, 16, 32, 64)
ROUNDS = 10  # requests simulated per connection at least, so that a prediction's window holds many rounds
BY_NAME = {design.name: design for design in designs.DESIGNS}


class Said(NamedTuple):
    """A step the model can say: its load, the command's name and where it ran."""

    scenario: object
    step: object
    load: Load
    command: str
    connections: int
    cpus: int


def load_of(group):
    """(the model's Load, the command's name) for a group of users, or None where the
    model cannot say it (a mix of commands, an open loop, a connection per request,
    pipelining)."""
    parameters = group["parameters"]
    mix = parameters.get("mix", "PING:1").split(",")
    if len(mix) != 1 or "rate" in parameters or "idle_interval" in parameters or parameters.get("pipeline", 1) != 1 \
            or parameters.get("connection_mode", "persistent") != "persistent":  # fmt: skip
        return None
    command = mix[0].split(":")[0]
    if command == "WORK":
        return Load(work=parameters.get("work_us", 0) / 1e6), command
    if command == "SLEEP":
        return Load(sleep=parameters.get("sleep_ms", 0) / 1e3), command
    return (Load(), command) if command in ("PING", "ECHO") else None


def cpus_of(scenario, machine):
    """How many CPUs the run gave the server in `scenario` (every CPU: of the machine that
    ran the servers)."""
    return machine.get("server_engine", machine)["cpus"] if scenario.server_cpus == "all" \
        else len(cpu_set(machine["server_cpus"]))  # fmt: skip


def steps(scenarios, machine):
    """[Said] of every step the model can say."""
    found = []
    for scenario in scenarios:
        cpus = cpus_of(scenario, machine)
        for step in scenario.steps:
            if len(step.groups) == 1 and (said := load_of(step.groups[0])) is not None:
                found.append(Said(scenario, step, *said, step.groups[0]["users"], cpus))
    return found


def _cell(points, scenario, step, target, python, protocol):
    """(median rps, median p99 ms, client, bound) of a cell's points, from the client that
    served the most; None where none ran."""
    mine = [p for p in points if (p["scenario"], p["step"], p["target"], p["python"], p["protocol"])
            == (scenario.name, step.label, target, python, protocol) and not p["metrics"].get("noisy")]  # fmt: skip
    by_client = {}
    for point in mine:
        by_client.setdefault(point["client"], []).append(point)
    if not by_client:
        return None
    client, chosen = max(by_client.items(), key=lambda item: statistics.median(p["metrics"]["rps"] for p in item[1]))
    p99 = [p["metrics"]["p99_ms"] for p in chosen if p["metrics"]["p99_ms"] is not None]
    return (statistics.median(p["metrics"]["rps"] for p in chosen), statistics.median(p99) if p99 else None,
            client, any(p["metrics"]["loadgen_bound"] for p in chosen))  # fmt: skip


def costs(said, points):
    """{(design, python, protocol, command): (seconds of CPU per request beyond what the
    command computes, the step read)}, from each command's first step on the run's
    server CPUs (not every CPU)."""
    found = {}
    for scenario, step, load, command, _, _ in said:
        if scenario.server_cpus == "all":
            continue
        cells = {}
        for point in points:
            if point["scenario"] == scenario.name and point["step"] == step.label and point["target"] in BY_NAME \
                    and point["metrics"]["rps"] > 0:  # fmt: skip
                cells.setdefault((point["target"], point["python"], point["protocol"], command), []).append(point["metrics"])
        for key, cell in cells.items():
            if key not in found:
                per_request = statistics.median((m.get("server_cpu") or 1.0) / m["rps"] for m in cell)
                found[key] = (max(0.0, per_request - load.work), f"{scenario.name} · {step.label}")
    return found


def settings_of(design, scenario, machine):
    """(WORKERS, PROCESSES) the design ran with in `scenario`."""
    settings = {**design.lab_settings, **scenario.server_settings, **machine.get("settings", {})}
    return int(settings.get("WORKERS", design.workers)), int(settings.get("PROCESSES", 2))


def check(scenarios, points, machine, requests=2000):
    """[{design, python, protocol, scenario, step, cpus, connections, measured/model rps
    and p99, errors, judged, input}] for every design's cell at every step said whose
    command has an input."""
    said = steps(scenarios, machine)
    inputs = costs(said, points)
    rows = []
    for (target, python, protocol, command), (overhead, source) in inputs.items():
        design = BY_NAME[target]
        for scenario, step, load, _, connections, cpus in (s for s in said if s.command == command):
            cell = _cell(points, scenario, step, target, python, protocol)
            if cell is None:
                continue
            rps, p99, client, bound = cell
            workers, processes = settings_of(design, scenario, machine)
            model = simulate(design, cpus, load, overhead, gil=python != "3.13t", connections=connections,
                             workers=workers, processes=processes, requests=requests, warmup=requests // 8)  # fmt: skip
            is_input = f"{scenario.name} · {step.label}" == source
            rows.append({"design": target, "python": python, "protocol": protocol, "command": command,
                         "scenario": scenario.name, "step": step.label, "cpus": cpus, "connections": connections,
                         "client": client, "rps": rps, "model_rps": model.rps,
                         "rps_error": model.rps / rps - 1 if rps else None, "p99_ms": p99, "model_p99_ms": model.p99_ms,
                         "p99_ratio": model.p99_ms / p99 if p99 else None, "input": is_input,
                         "judged": not bound and not is_input and bool(rps), "overhead_us": overhead * 1e6})  # fmt: skip
    return rows


def rps_misses(row):
    """The requests/s miss of a judged row, as a list: [] where it meets the goal."""
    return [f"requests/s {row['rps_error']:+.0%}"] if abs(row["rps_error"]) > RPS_GOAL else []


def misses(row):
    """What of a judged row misses the goals: [] where it meets them."""
    found = rps_misses(row)
    if row["p99_ratio"] is not None and not 1 / P99_GOAL <= row["p99_ratio"] <= P99_GOAL:
        found.append(f"p99 {row['p99_ratio']:.2f}×")
    return found


def predict(scenarios, points, machine, rows, requests=2000):
    """({(design, python, protocol, load label): {cores: rps}} for each design and build
    whose judged rows all met the requests/s goal, at each computing step's load (whose
    command was checked) with its connections per core; {(design, python, protocol): its
    first miss, or why none} for the others). A prediction of requests/s stands on the
    requests/s checks: the model predicts no latency (its p99 has no client, no network
    and no variance of service)."""
    tops = {}  # a sweep's top step only: the most connections per core
    for said in steps(scenarios, machine):
        if said.load.work:
            tops[said.scenario.name, said.step.base] = said
    predictions, missed = {}, {}
    for key in dict.fromkeys((r["design"], r["python"], r["protocol"]) for r in rows):
        mine = [r for r in rows if (r["design"], r["python"], r["protocol"]) == key]
        judged = [r for r in mine if r["judged"]]
        failing = [(r, found) for r in judged if (found := rps_misses(r))]
        overheads = {r["command"]: r["overhead_us"] / 1e6 for r in mine}
        checked = {r["command"] for r in judged}  # a load is predicted only where its command was checked
        if failing or not judged:
            missed[key] = failing[0] if failing else (None, ["nothing judged"])
            continue
        design, python, _ = key
        for said in tops.values():
            if said.command not in checked:
                continue
            per_core = max(1, said.connections // said.cpus)
            predictions[(*key, said.step.base)] = {
                cores: simulate(BY_NAME[design], cores, said.load, overheads[said.command], gil=python != "3.13t",
                                connections=per_core * cores, requests=(many := max(requests, ROUNDS * per_core * cores)),
                                warmup=many // 8).rps
                for cores in CORES}  # fmt: skip
        if not any(k[:3] == key for k in predictions):
            missed[key] = (None, ["no computing step whose command was checked"])
    return predictions, missed


def model_verdicts(scenarios, predictions, measured):
    """[claim, design, build, protocol, the run's verdict, the model's ratio, its verdict]
    for each prediction of one design against itself (another build, or more of the
    same load) on a load the model predicted: the model's requests/s at the most cores
    against one core (or against the `from` build at the most cores), judged with the
    prediction's own margin. `measured`: the run's verdicts, set beside, never mixed."""
    top = CORES[-1]
    found = []
    for scenario in scenarios:
        for prediction in scenario.predictions:
            if "designs" not in prediction or prediction["metric"] != "rps":
                continue
            before, after = prediction.get("from", {}).get("python"), prediction.get("to", {}).get("python")
            margin, more = prediction.get("margin", MARGIN), prediction["expect"] == "more"
            step = prediction.get("step") or scenario.steps[-1].base
            for (design, python, protocol, load), by_cores in predictions.items():
                if design not in prediction["designs"] or load != step or python != (after or python):
                    continue
                if before and before != python:  # another build: the `from` build's prediction at the most cores
                    base = predictions.get((design, before, protocol, load))
                    if base is None:
                        continue
                    ratio = by_cores[top] / base[top]
                else:
                    ratio = by_cores[top] / by_cores[1]
                holds = ratio >= margin if more else max(ratio, 1 / ratio) <= margin
                run = measured.get((scenario.name, prediction["claim"], python, protocol, design)) \
                    or measured.get((scenario.name, prediction["claim"], python, protocol, None))  # fmt: skip
                found.append([prediction["claim"], design, python, protocol,
                              f"{run['verdict']}, {run['ratio']:.2f}×" if run and run.get("ratio") else "–",
                              f"{ratio:.2f}×", "yes" if holds else "no"])  # fmt: skip
    return found


def blocks(rows, predictions, missed, figure, verdicts=()):
    """The report's section: the check, then the predictions (or why none)."""
    if not rows:
        return []
    table = [[r["design"], r["python"], r["protocol"], f"{r['scenario']} · {r['step']}", r["cpus"],
              f"{r['rps']:,.0f}", f"{r['model_rps']:,.0f}", "input" if r["input"] else f"{r['rps_error']:+.0%}",
              shown_ms(r["p99_ms"]), shown_ms(r["model_p99_ms"]), f"{r['p99_ratio']:.2f}×" if r["p99_ratio"] else "–",
              "input" if r["input"] else ("†, not judged" if not r["judged"] else ", ".join(misses(r)) or "yes")]
             for r in rows]  # fmt: skip
    found = [("h2", "The many-core model against this run"),
             ("p", "experiments/connlab_model simulates each design (cores, processes, threads, the GIL or none) from "
                   "the run's own measurements: for each command, its CPU per request beyond what the command "
                   "computes (reading, parsing, dispatching, replying), read at the command's first step on the "
                   "server CPUs, marked input. Every other closed-loop step of one kind of request is checked: goal "
                   f"requests/s within {RPS_GOAL:.0%}, p99 within {P99_GOAL:g}×. The model has no network, no client "
                   "and no variance of service, so its p99 is the server's queue alone; † marks a step whose client "
                   "was the limit, shown and not judged."),
             ("table", ["design", "build", "protocol", "step", "CPUs", "req/s", "model", "error", "p99 ms", "model",
                        "ratio", "within the goals?"], table)]  # fmt: skip
    if predictions:
        found += [("p", "Predictions: requests/s at each core count with one loop, process or pool worker per core "
                        "and the step's connections per core, for each design and build whose checked steps all met "
                        "the requests/s goal (model, not measured; no latency is predicted):"),
                  ("table", ["design", "build", "protocol", "load", *map(str, CORES)],
                   [[*key, *(f"{rps:,.0f}" for rps in by_cores.values())] for key, by_cores in predictions.items()])]
        found += [("img", figure, "the model's predictions")] if figure else []
    if verdicts:
        found += [("p", f"The scenarios' predictions of one design against itself, by the model at {CORES[-1]} cores "
                        f"against one (or one build against the other at {CORES[-1]}), judged with each prediction's "
                        "margin: a model verdict, beside this run's measured one and never mixed with it."),
                  ("table", ["prediction", "design", "build", "protocol", "measured here", "model ratio",
                             "model verdict"], verdicts)]  # fmt: skip
    if missed:
        found += [("p", "No prediction (the first requests/s miss, or why none): " + "; ".join(
            f"{design} ({python}, {protocol}): " + (f"{row['scenario']} · {row['step']} " if row else "") + ", ".join(why)
            for (design, python, protocol), (row, why) in missed.items()) + ".")]  # fmt: skip
    return found


def predicted(text, predictions, shown, figure, alt, verdicts):
    """A scenario's blocks of the report's model section: its predictions ({(design,
    build, protocol): {cores: value}}, each cell `shown(value)`) after `text`, their
    figure, then the scenario's predictions judged by the model at the most cores."""
    found = []
    if predictions:
        found += [("p", text), ("table", ["design", "build", "protocol", *map(str, CORES)],
                                [[*key, *map(shown, by_cores.values())] for key, by_cores in predictions.items()])]
        found += [("img", figure, alt)] if figure else []
    if verdicts:
        found += [("p", f"The scenario's predictions by the model at {CORES[-1]} cores (a model verdict, beside the "
                        "run's measured one, never mixed with it):"),
                  ("table", ["prediction", "build", "protocol", "measured here", "model ratio", "model verdict"],
                   verdicts)]  # fmt: skip
    return found


def shown_ms(value):
    return "–" if value is None else "never answered" if value == float("inf") else f"{value:.3g}"


def plot(rows, predictions, out):
    """model.png in `out`: per computing load, each design's measured requests/s at the
    CPUs it ran on (dots; hollow where it was the input) and the model's at 1 to 64 cores
    (dashed). Its name, or None."""
    if not predictions:
        return None
    panels = {}
    for key, by_cores in predictions.items():
        design, python, protocol, load = key
        mine = [r for r in rows if (r["design"], r["python"], r["protocol"]) == key[:3] and r["step"].startswith(load)]
        panels.setdefault(f"{load} (dots: measured; hollow: the model's input)", []).append(
            (f"{design} ({python}, {protocol}) model", by_cores, [(r["cpus"], r["rps"]) for r in mine if r["judged"]],
             [(r["cpus"], r["rps"]) for r in mine if r["input"]]))  # fmt: skip
    return draw(panels, "requests/s", out / "model.png")


def draw(panels, axis_label, path):
    """A figure at `path` with a panel per title in `panels` ({title: [(label, {cores:
    value}, measured [(cpus, value)], the model's inputs [(cpus, value)])]}): the model
    dashed, the measured points as dots, hollow where they were inputs. `axis_label`: the
    values' name, or {title: it}. Its file name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5), squeeze=False)
    for axis, (title, lines) in zip(axes[0], panels.items()):
        for index, (label, by_cores, measured, inputs) in enumerate(lines):
            color = plt.cm.tab20(index % 20)  # twenty lines before a colour comes back
            axis.plot(list(by_cores), list(by_cores.values()), "--", color=color, alpha=0.8, label=label)
            for shown, fill in ((measured, color), (inputs, "none")):
                axis.plot([c for c, _ in shown], [v for _, v in shown], "o", color=color, markerfacecolor=fill)
        axis.set(xscale="log", yscale="log", xlabel="server cores", title=title,
                 ylabel=axis_label.get(title) if isinstance(axis_label, dict) else axis_label)
        axis.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # beside the lines, not on them
    figure.tight_layout()
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path.name


def section(scenarios, results, out):
    """The report's model section for a run's results, its figures drawn in `out`."""
    from . import accepting, tails  # which read this module's helpers
    rows = check(scenarios, results["points"], results["machine"])
    predictions, missed = predict(scenarios, results["points"], results["machine"], rows)
    measured = {(v["scenario"], v["claim"], v["python"], v.get("protocol", "resp"), v.get("design")): v
                for v in results.get("verdicts", [])}  # a verdict per design where the prediction judges each
    verdicts = model_verdicts(scenarios, predictions, measured)
    return blocks(rows, predictions, missed, plot(rows, predictions, out), verdicts) + accepting.section(
        scenarios, results, measured, out) + tails.section(scenarios, results, measured, out)
