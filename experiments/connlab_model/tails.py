"""The blocked-worker model (blocked.py) against a `make compare` run: each design's
connect-to-reply p99 and max beside the measured ones on the run's server CPUs, then
the p99 on 1 to 64 cores (a loop, thread or process per core), and the scenario's
predictions judged by the model at 64 cores beside the run's verdicts.

The inputs, per design, build and protocol: the server's CPU per new connection in the
step itself (its cgroup's CPU over the connections answered, the blocked connection's
few requests included), all of it counted in the thread that serves: 100 new
connections a second take a few per cent of a core, so where the acceptor's part runs
moves no tail. And the floor: the model has no client's CPU and no network, so the
lowest p99 any design measured in the step (per build and protocol; that row is the
input, not judged) is taken as theirs and added to the model's. The rate, the blocking
and Locust's users (each opening one connection at a time on its own schedule, timed
from when it was due: where connections wait behind the SLEEP, a user falls behind and
its backlog, not the server, makes the tail) come from the scenario's step, the warm-up
and measured seconds from the run. Checked: p99 within 2×. The max is shown, not judged:
one draw.
"""

import statistics

from connlab_compare.verdict import MARGIN, round_ratios

from .blocked import Tail, floors, tail, unmodelled
from .compared import BY_NAME, CORES, P99_GOAL, cpus_of, draw, predicted, settings_of, shown_ms

SCENARIO = "blocked-worker"


def load_of(step):
    """(new connections/s, seconds each blocking request blocks, the users opening them)
    of a blocked-worker step, or None where it is not one connection-per-request group at
    a rate beside blocking ones."""
    fresh = [g for g in step.groups if g["parameters"].get("connection_mode") == "per-request"]
    blocking = [g["parameters"] for g in step.groups if g["parameters"].get("mix", "").startswith("SLEEP")]
    if len(fresh) != 1 or not blocking or not fresh[0]["parameters"].get("rate"):
        return None
    return float(fresh[0]["parameters"]["rate"]), blocking[0].get("sleep_ms", 0) / 1e3, fresh[0]["users"]


def _load(scenario, machine):
    """tail()'s keywords for the scenario's step as the run measured it."""
    rate, blocked, users = load_of(scenario.steps[0])
    quick = machine.get("quick", False)
    return {"rate": rate, "blocked": blocked, "users": users, "window": (scenario.warmup(quick), scenario.duration(quick))}


def check(scenario, points, machine):
    """[{design, python, protocol, cpus, p99_ms, max_ms, model_p99_ms, model_max_ms (the
    floor added), ratio, floor_ms, input, serve_us}] per design, build and protocol that
    ran the step, and {key: why none}."""
    step, load = scenario.steps[0], _load(scenario, machine)
    cpus, cells, rows, why = cpus_of(scenario, machine), {}, [], {}
    for point in points:
        figures = point["metrics"]
        if (point["scenario"], point["step"], point["client"]) == (scenario.name, step.label, "locust") \
                and point["target"] in BY_NAME and figures["rps"] and figures["p99_ms"] is not None \
                and not figures.get("noisy"):  # fmt: skip
            cells.setdefault((point["target"], point["python"], point["protocol"]), []).append(figures)
    for key, figures in list(cells.items()):
        if reason := unmodelled(BY_NAME[key[0]]) or (None in (f.get("server_cpu") for f in figures)
                                                        and "the server's CPU was not read"):  # fmt: skip
            why[key] = reason
            del cells[key]
    lowest = floors((key[1:], statistics.median(f["p99_ms"] for f in figures)) for key, figures in cells.items())
    for key, figures in cells.items():
        design = BY_NAME[key[0]]
        serve = statistics.median(f["server_cpu"] / f["rps"] for f in figures)
        workers, processes = settings_of(design, scenario, machine)
        model = tail(design, cpus, 0.0, serve, gil=key[1] != "3.13t", workers=workers, processes=processes, **load)
        p99, floor = statistics.median(f["p99_ms"] for f in figures), lowest[key[1:]]
        rows.append({"design": key[0], "python": key[1], "protocol": key[2], "cpus": cpus, "p99_ms": p99,
                     "max_ms": statistics.median(f["max_ms"] for f in figures), "model_p99_ms": model.p99_ms + floor,
                     "model_max_ms": model.max_ms + floor, "ratio": (model.p99_ms + floor) / p99, "floor_ms": floor,
                     "input": p99 == floor, "serve_us": serve * 1e6})  # fmt: skip
    return rows, why


def within(row):
    return not row["input"] and 1 / P99_GOAL <= row["ratio"] <= P99_GOAL


def predict(scenario, machine, rows):
    """{(design, python, protocol): {cores: Tail}} for each row within the goal (and the
    floor's, whose part of the model the others check), with bench-scaling's wiring (a
    loop, thread or process per core; a blocking design the threads the lab runs it with,
    one per connection it serves at once)."""
    load, found = _load(scenario, machine), {}
    for r in (r for r in rows if within(r) or r["input"]):
        design = BY_NAME[r["design"]]
        workers = int(design.lab_settings["WORKERS"]) if "WORKERS" in design.lab_settings else None
        found[r["design"], r["python"], r["protocol"]] = {
            cores: _floored(tail(design, cores, 0.0, r["serve_us"] / 1e6, gil=r["python"] != "3.13t", workers=workers,
                                 **load), r["floor_ms"]) for cores in CORES}  # fmt: skip
    return found


def _floored(found, floor):
    return Tail(found.p99_ms + floor, found.max_ms + floor)


def verdicts(scenario, predictions, measured_verdicts):
    """[claim, build, protocol, the run's verdict, the model's ratio at the most cores, its
    verdict] for each prediction of p99 or max whose designs the model all predicted,
    judged as the run's verdicts are (verdict.round_ratios) with the prediction's margin."""
    found, top = [], CORES[-1]
    for prediction in scenario.predictions:
        if prediction["metric"] not in ("p99_ms", "max_ms"):
            continue
        index = ("p99_ms", "max_ms").index(prediction["metric"])
        named = [d for group in ("better", "worse", "similar") for d in prediction.get(group, [])]
        for python, protocol in dict.fromkeys(key[1:] for key in predictions):
            if any((d, python, protocol) not in predictions for d in named):
                continue
            [ratio] = round_ratios(prediction, {d: {1: predictions[d, python, protocol][top][index]} for d in named})
            margin = prediction.get("margin", MARGIN)
            run = measured_verdicts.get((scenario.name, prediction["claim"], python, protocol, None))
            found.append([prediction["claim"], python, protocol,
                          f"{run['verdict']}, {run['ratio']:.2f}×" if run and run.get("ratio") else "–",
                          f"{ratio:.2f}×", "yes" if (ratio <= margin if "similar" in prediction else ratio >= margin) else "no"])  # fmt: skip
    return found


def blocks(rows, why, predictions, verdicts, figure):
    """The report's blocked-worker part of the model section."""
    if not rows and not why:
        return []
    table = [[r["design"], r["python"], r["protocol"], r["cpus"], f"{r['serve_us']:.0f}", f"{r['p99_ms']:.3g}",
              shown_ms(r["model_p99_ms"]), f"{r['ratio']:.2f}×", f"{r['max_ms']:.3g}", shown_ms(r["model_max_ms"]),
              "input" if r["input"] else "yes" if within(r) else "no"] for r in rows]  # fmt: skip
    found = [("h2", "A blocked worker, by the many-core model"),
             ("p", "blocked-worker by experiments/connlab_model/blocked.py: where each design puts a new connection "
                   "(the kernel's wake-up of a waiting thread, the acceptor's dispatch policy, the SO_REUSEPORT hash) "
                   "and whether it waits there behind the connection whose SLEEP blocks its thread. Inputs: the "
                   "step's server CPU per new connection; the model has no client and no network, so the lowest p99 "
                   "any design measured (marked input) is taken as theirs and added to the model's. Goal: "
                   f"connect-to-reply p99 within {P99_GOAL:g}×; the max is shown, not judged."),
             ("table", ["design", "build", "protocol", "CPUs", "µs per connection", "p99 ms", "model", "ratio",
                        "max ms", "model", "within the goal?"], table)]  # fmt: skip
    found += predicted("Predicted connect-to-reply p99 (ms), a loop, thread or process per core (model, not "
                       "measured): where connections land by turn or by hash, the blocked thread's share of them "
                       "falls with the cores, and with it the tail:", predictions, lambda t: shown_ms(t.p99_ms), figure,
                       "the model's blocked-worker p99", verdicts)  # fmt: skip
    missed = [f"{d} ({p}, {pr}): {reason}" for (d, p, pr), reason in why.items()]
    missed += [f"{r['design']} ({r['python']}, {r['protocol']}): p99 {r['ratio']:.2f}×" for r in rows
               if not within(r) and not r["input"]]  # fmt: skip
    return found + ([("p", "No blocked-worker prediction: " + "; ".join(missed) + ".")] if missed else [])


def section(scenarios, results, measured_verdicts, out):
    """The blocked-worker blocks for a run (nothing where it has no blocked-worker step the
    model can say), its figure drawn in `out`."""
    scenario = next((s for s in scenarios if s.name == SCENARIO), None)
    if scenario is None or load_of(scenario.steps[0]) is None:
        return []
    rows, why = check(scenario, results["points"], results["machine"])
    predictions = predict(scenario, results["machine"], rows)
    return blocks(rows, why, predictions, verdicts(scenario, predictions, measured_verdicts), plot(rows, predictions, out))


def plot(rows, predictions, out):
    """model-blocked.png in `out`: each predicted design's p99, the model's at 1 to 64
    cores (dashed) and the run's (dots). Its name, or None."""
    if not predictions:
        return None
    lines = [(f"{design} ({python}, {protocol}) model", {cores: t.p99_ms for cores, t in by_cores.items()},
              [(r["cpus"], r["p99_ms"]) for r in rows if (r["design"], r["python"], r["protocol"]) == (design, python, protocol)], [])
             for (design, python, protocol), by_cores in predictions.items()]  # fmt: skip
    return draw({"new connections beside a blocked one (dots: measured)": lines}, "connect-to-reply p99 (ms)",
                out / "model-blocked.png")
