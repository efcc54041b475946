"""The model against a `make compare` run: the lab's own measurements on one and two
server CPUs, in the run's report.

Each design's cost per request is read from the run itself: at the
first closed-loop step whose command costs next to nothing (throughput's `PING`), the
CPU the server used per request served (its cgroup's CPU over its requests/s). Every
closed-loop step with one kind of request (one
group of users, persistent connections, no pipelining, no rate) is then simulated with
the step's connections, the run's server CPUs (every CPU where the scenario says
`server_cpus = "all"`), the design's WORKERS and PROCESSES and the build, beside the
measured requests/s and p99. The model has no network and no client: a step whose
client was the limit is shown and not judged, and a p99 it gives is the server's alone.
"""

import statistics

from connlab import designs
from connlab.config import cpu_set

from .wiring import Load, simulate

RPS_GOAL = 0.15  # throughput within 15 % of the measurement
P99_GOAL = 2.0  # p99 within 2×
CORES = (1, 2, 4, 8, 16, 32, 64)
BY_NAME = {design.name: design for design in designs.DESIGNS}


def load_of(group):
    """The model's Load for a group of users, or None where the model cannot say it (a
    mix of commands, an open loop, a connection per request, pipelining)."""
    parameters = group["parameters"]
    mix = parameters.get("mix", "PING:1").split(",")
    if len(mix) != 1 or "rate" in parameters or "idle_interval" in parameters or parameters.get("pipeline", 1) != 1 \
            or parameters.get("connection_mode", "persistent") != "persistent":  # fmt: skip
        return None
    command = mix[0].split(":")[0]
    if command == "WORK":
        return Load(work=parameters.get("work_us", 0) / 1e6)
    if command == "SLEEP":
        return Load(sleep=parameters.get("sleep_ms", 0) / 1e3)
    return Load() if command in ("PING", "ECHO") else None


def steps(scenarios, machine):
    """[(scenario, step, load, connections, cpus)] of every step the model can say."""
    found = []
    for scenario in scenarios:
        cpus = machine["cpus"] if scenario.server_cpus == "all" else len(cpu_set(machine["server_cpus"]))
        for step in scenario.steps:
            if len(step.groups) == 1 and (load := load_of(step.groups[0])) is not None:
                found.append((scenario, step, load, step.groups[0]["users"], cpus))
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
    """{(design, python, protocol): (seconds of CPU per request, the step read)}, from the
    first step on the run's server CPUs (not every CPU) whose command neither computes
    nor waits: what reading, parsing and replying cost."""
    found = {}
    for scenario, step, load, _, _ in said:
        if load.work or load.sleep or scenario.server_cpus == "all":
            continue
        cells = {}
        for point in points:
            if point["scenario"] == scenario.name and point["step"] == step.label and point["target"] in BY_NAME \
                    and point["metrics"]["rps"] > 0:  # fmt: skip
                cells.setdefault((point["target"], point["python"], point["protocol"]), []).append(point["metrics"])
        for key, cell in cells.items():
            if key not in found:
                per_request = statistics.median((m.get("server_cpu") or 1.0) / m["rps"] for m in cell)
                found[key] = (per_request, f"{scenario.name} · {step.label}")
    return found


def settings_of(design, scenario, machine):
    """(WORKERS, PROCESSES) the design ran with in `scenario`."""
    settings = {**design.lab_settings, **scenario.server_settings, **machine.get("settings", {})}
    return int(settings.get("WORKERS", design.workers)), int(settings.get("PROCESSES", 2))


def check(scenarios, points, machine, requests=2000):
    """[{design, python, protocol, scenario, step, cpus, connections, measured/model rps
    and p99, errors, judged, input}] for every design's cell at every step said."""
    said = steps(scenarios, machine)
    inputs = costs(said, points)
    rows = []
    for (target, python, protocol), (overhead, source) in inputs.items():
        design = BY_NAME[target]
        for scenario, step, load, connections, cpus in said:
            cell = _cell(points, scenario, step, target, python, protocol)
            if cell is None:
                continue
            rps, p99, client, bound = cell
            workers, processes = settings_of(design, scenario, machine)
            model = simulate(design, cpus, load, overhead, gil=python != "3.13t", connections=connections,
                             workers=workers, processes=processes, requests=requests, warmup=requests // 8)  # fmt: skip
            is_input = f"{scenario.name} · {step.label}" == source
            rows.append({"design": target, "python": python, "protocol": protocol, "scenario": scenario.name,
                         "step": step.label, "cpus": cpus, "connections": connections, "client": client,
                         "rps": rps, "model_rps": model.rps, "rps_error": model.rps / rps - 1 if rps else None,
                         "p99_ms": p99, "model_p99_ms": model.p99_ms,
                         "p99_ratio": model.p99_ms / p99 if p99 else None, "input": is_input,
                         "judged": not bound and not is_input and bool(rps), "overhead_us": overhead * 1e6})  # fmt: skip
    return rows


def misses(row):
    """What of a judged row misses the goals: [] where it meets them."""
    found = []
    if abs(row["rps_error"]) > RPS_GOAL:
        found.append(f"requests/s {row['rps_error']:+.0%}")
    if row["p99_ratio"] is not None and not 1 / P99_GOAL <= row["p99_ratio"] <= P99_GOAL:
        found.append(f"p99 {row['p99_ratio']:.2f}×")
    return found


def predict(scenarios, points, machine, rows, requests=2000):
    """({(design, python, protocol, load label): {cores: rps}} for each design and build
    whose judged rows all met the goals, at each computing step's load with its
    connections per core; {(design, python, protocol): its first miss} for the others)."""
    tops = {}  # a sweep's top step only: the most connections per core
    for said_step in steps(scenarios, machine):
        if said_step[2].work:
            tops[said_step[0].name, said_step[1].base] = said_step
    predictions, missed = {}, {}
    for key in dict.fromkeys((r["design"], r["python"], r["protocol"]) for r in rows):
        mine = [r for r in rows if (r["design"], r["python"], r["protocol"]) == key and r["judged"]]
        failing = [(r, m) for r in mine if (m := misses(r))]
        if failing or not mine:
            missed[key] = failing[0] if failing else (None, ["nothing judged"])
            continue
        design, python, _ = key
        overhead = mine[0]["overhead_us"] / 1e6
        for scenario, step, load, connections, cpus in tops.values():
            per_core = max(1, connections // cpus)
            predictions[(*key, step.base)] = {
                cores: simulate(BY_NAME[design], cores, load, overhead, gil=python != "3.13t",
                                connections=per_core * cores, requests=requests, warmup=requests // 8).rps
                for cores in CORES}  # fmt: skip
    return predictions, missed


def blocks(rows, predictions, missed, figure):
    """The report's section: the check, then the predictions (or why none)."""
    if not rows:
        return []
    table = [[r["design"], r["python"], r["protocol"], f"{r['scenario']} · {r['step']}", r["cpus"],
              f"{r['rps']:,.0f}", f"{r['model_rps']:,.0f}", "input" if r["input"] else f"{r['rps_error']:+.0%}",
              _ms(r["p99_ms"]), _ms(r["model_p99_ms"]), f"{r['p99_ratio']:.2f}×" if r["p99_ratio"] else "–",
              "input" if r["input"] else ("†, not judged" if not r["judged"] else ", ".join(misses(r)) or "yes")]
             for r in rows]  # fmt: skip
    found = [("h2", "The many-core model against this run"),
             ("p", "experiments/connlab_model simulates each design (cores, processes, threads, the GIL or none) from "
                   "the run's own measurements: its CPU per request (reading, parsing, replying), read where the "
                   "command costs next to nothing, at the step marked input. Every closed-loop step of one kind of request is checked: goal requests/s within "
                   f"{RPS_GOAL:.0%}, p99 within {P99_GOAL:g}×. The model has no network and no client, so its p99 is the "
                   "server's alone; † marks a step whose client was the limit, shown and not judged."),
             ("table", ["design", "build", "protocol", "step", "CPUs", "req/s", "model", "error", "p99 ms", "model",
                        "ratio", "within the goals?"], table)]  # fmt: skip
    if predictions:
        found += [("p", "Predictions: requests/s at each core count with one loop, process or pool worker per core "
                        "and the step's connections per core, for each design and build whose checked steps all met "
                        "the goals (model, not measured):"),
                  ("table", ["design", "build", "protocol", "load", *map(str, CORES)],
                   [[*key, *(f"{rps:,.0f}" for rps in by_cores.values())] for key, by_cores in predictions.items()])]
        found += [("img", figure, "the model's predictions")] if figure else []
    if missed:
        found += [("p", "No prediction, the check missed: " + "; ".join(
            f"{design} ({python}, {protocol}): " + (f"{row['scenario']} · {row['step']} " if row else "") + ", ".join(why)
            for (design, python, protocol), (row, why) in missed.items()) + ".")]  # fmt: skip
    return found


def _ms(value):
    return "–" if value is None else f"{value:.3g}"


def plot(rows, predictions, out):
    """model.png in `out`: per computing load, each design's measured requests/s at the
    CPUs it ran on (dots) and the model's at 1 to 64 cores (dashed). Its name, or None."""
    if not predictions:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    loads = list(dict.fromkeys(key[3] for key in predictions))
    figure, axes = plt.subplots(1, len(loads), figsize=(6 * len(loads), 4.5), squeeze=False)
    for axis, load in zip(axes[0], loads):
        for index, (key, by_cores) in enumerate((k, v) for k, v in predictions.items() if k[3] == load):
            design, python, protocol, _ = key
            color = f"C{index % 10}"
            axis.plot(list(by_cores), list(by_cores.values()), "--", color=color, alpha=0.8,
                      label=f"{design} ({python}, {protocol}) model")
            measured = [(r["cpus"], r["rps"]) for r in rows if (r["design"], r["python"], r["protocol"]) == key[:3]
                        and r["step"].startswith(load) and r["judged"]]  # fmt: skip
            axis.plot([c for c, _ in measured], [r for _, r in measured], "o", color=color)
        axis.set(xscale="log", yscale="log", xlabel="server cores", ylabel="requests/s", title=f"{load} (dots: measured)")
        axis.legend(fontsize=6)
    figure.tight_layout()
    figure.savefig(out / "model.png", dpi=110)
    plt.close(figure)
    return "model.png"


def section(scenarios, results, out):
    """The report's model section for a run's results, its figure drawn in `out`."""
    rows = check(scenarios, results["points"], results["machine"])
    predictions, missed = predict(scenarios, results["points"], results["machine"], rows)
    return blocks(rows, predictions, missed, plot(rows, predictions, out))
