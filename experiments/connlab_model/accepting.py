"""The accept-storm model (storm.py) against a `make compare` run: each design's sustained
rate of new connections on the run's server CPUs beside the measured one, then on 1 to
64 cores, and the scenario's prediction (a single acceptor caps new connections) judged
by the model at 64 cores beside the run's verdict.

Inputs, per design, build and protocol, read where Locust's sweep served the most new
connections without an error (the server's fixed costs least in each): the server's CPU
per new connection (its cgroup's CPU over the connections served), and the acceptor
thread's share of it (the step's scheduler figures, schedstat.py: threads of no named
role, where the acceptor runs, over all the server's threads). A design without an
acceptor spends it all in the thread that serves. Checked against the capacity the C
client measured (a closed loop of new connections), or where it has none, against the
knee Locust's sweep found inside it: goal within 15 %, as for requests/s. A capacity is
the server's only where the server used its CPUs (SATURATED); else the clients were the
limit, and the row is shown, not judged, and no prediction drawn from it.
"""

import statistics

from connlab_compare.verdict import MARGIN, round_ratios

from .compared import BY_NAME, CORES, RPS_GOAL, cpus_of, draw, predicted, settings_of
from .storm import capacity

SCENARIO = "accept-storm"
UNNAMED = "other"  # schedstat's role for threads of no named role: the acceptor (the main thread) among them
SATURATED = 0.9  # a capacity is the server's where it used at least this share of its CPUs


def inputs(points, scenario):
    """{(design, python, protocol): (accept s, serve s, the step read)}, and {key: why none}."""
    busiest = {}  # per cell and repeat, Locust's point that served the most
    for point in points:
        figures = point["metrics"]
        if point["scenario"] == scenario.name and point["client"] == "locust" and point["target"] in BY_NAME \
                and figures["rps"] > 0 and not figures["errors"] and not figures.get("noisy"):  # fmt: skip
            key = point["target"], point["python"], point["protocol"]
            mine = busiest.setdefault(key, {})
            if point["repeat"] not in mine or figures["rps"] > mine[point["repeat"]]["metrics"]["rps"]:
                mine[point["repeat"]] = point
    found, why = {}, {}
    for key, by_repeat in busiest.items():
        mine = list(by_repeat.values())
        shares = [_acceptor_share(BY_NAME[key[0]], p["metrics"].get("threads")) for p in mine]
        if None in shares:
            why[key] = "no acceptor's share (the step's threads were not read, or its serving threads had no name)"
            continue
        cost = statistics.median((p["metrics"].get("server_cpu") or 1.0) / p["metrics"]["rps"] for p in mine)
        share = statistics.median(shares)
        found[key] = (cost * share, cost * (1 - share), mine[0]["step"])
    return found, why


def _acceptor_share(design, threads):
    """The acceptor thread's share of the server's CPU (0 where the design has none), or
    None where the figures cannot say it."""
    if not design.acceptor:
        return 0.0
    if not threads:
        return None
    named = sum(role["cpu_ms"] for name, role in threads.items() if name != UNNAMED)
    unnamed = threads.get(UNNAMED, {}).get("cpu_ms", 0.0)
    return unnamed / (named + unnamed) if named else None


def measured(points, scenario, key, cpus):
    """(connections/s, which client, why it is not the server's capacity or None) the run
    says `key` sustains: the C client's closed-loop capacity (median over repeats), else
    Locust's knee where its sweep found one; None where neither can say."""
    mine = [p for p in points if (p["scenario"], p["target"], p["python"], p["protocol"]) == (scenario.name, *key)
            and not p["metrics"].get("noisy")]  # fmt: skip
    closed = [p for p in mine if p["client"] != "locust" and p["metrics"].get("sustained_rate")]
    knees = [p for p in mine if p["client"] == "locust" and "sustained_rate" in p["metrics"]]
    if not closed and (not knees or any(p["metrics"].get("beyond_sweep") for p in knees)):
        return None
    chosen = closed or knees
    rate = statistics.median(p["metrics"]["sustained_rate"] for p in chosen)
    used = statistics.median((p["metrics"].get("server_cpu") or 0.0) for p in chosen) / cpus
    bound = "the client was the limit" if any(p["metrics"]["loadgen_bound"] for p in chosen) else \
        f"the server used {used:.0%} of its CPUs: the clients were the limit" if used < SATURATED else None  # fmt: skip
    return (rate, chosen[0]["client"], bound) if rate else None  # none sustained: nothing to check against


def check(scenario, points, machine, found):
    """[{design, python, protocol, cpus, rate, client, model, error, judged, bound}] at the
    run's server CPUs."""
    rows, cpus = [], cpus_of(scenario, machine)
    for key, (accept, serve, _) in found.items():
        seen = measured(points, scenario, key, cpus)
        if seen is None:
            continue
        rate, client, bound = seen
        design = BY_NAME[key[0]]
        workers, processes = settings_of(design, scenario, machine)
        model = capacity(design, cpus, accept, serve, gil=key[1] != "3.13t", workers=workers, processes=processes)
        rows.append({"design": key[0], "python": key[1], "protocol": key[2], "cpus": cpus,
                     "rate": rate, "client": client, "model": model, "error": model / rate - 1,
                     "judged": not bound, "bound": bound, "accept_us": accept * 1e6, "serve_us": serve * 1e6})  # fmt: skip
    return rows


def predict(scenario, rows, found):
    """{(design, python, protocol): {cores: sustained connections/s}} for each row judged
    within the goal, with bench-scaling's wiring (a loop, thread or process per core)."""
    return {(r["design"], r["python"], r["protocol"]): {
                cores: capacity(BY_NAME[r["design"]], cores, *found[r["design"], r["python"], r["protocol"]][:2],
                                gil=r["python"] != "3.13t")
                for cores in CORES}
            for r in rows if r["judged"] and abs(r["error"]) <= RPS_GOAL}  # fmt: skip


def verdicts(scenario, predictions, measured_verdicts):
    """[claim, build, protocol, the run's verdict, the model's ratio at the most cores, its
    verdict] for each prediction of the scenario whose designs the model predicted."""
    found = []
    top = CORES[-1]
    for prediction in scenario.predictions:
        named = [d for group in ("better", "worse") for d in prediction.get(group, [])]
        for python, protocol in dict.fromkeys(key[1:] for key in predictions):
            rates = {d: {1: predictions[d, python, protocol][top]} for d in named if (d, python, protocol) in predictions}
            if len(rates) < len(named):
                continue
            [ratio] = round_ratios(prediction, rates)
            run = measured_verdicts.get((scenario.name, prediction["claim"], python, protocol, None))
            found.append([prediction["claim"], python, protocol,
                          f"{run['verdict']}, {run['ratio']:.2f}×" if run and run.get("ratio") else "–",
                          f"{ratio:.2f}×", "yes" if ratio >= prediction.get("margin", MARGIN) else "no"])  # fmt: skip
    return found


def blocks(rows, predictions, why, verdicts, figure):
    """The report's accept-storm part of the model section."""
    if not rows and not why:
        return []
    table = [[r["design"], r["python"], r["protocol"], r["cpus"], f"{r['accept_us']:.0f} + {r['serve_us']:.0f}",
              f"{r['rate']:,.0f} ({r['client']})", f"{r['model']:,.0f}", f"{r['error']:+.0%}",
              ("yes" if abs(r["error"]) <= RPS_GOAL else "no") if r["judged"] else f"†, not judged: {r['bound']}"]
             for r in rows]  # fmt: skip
    found = [("h2", "New connections, by the many-core model"),
             ("p", "accept-storm by experiments/connlab_model/storm.py: each design's CPU per new connection, its "
                   "acceptor thread's part first, read where Locust served the most without an error; the model's capacity (what it serves when more arrive; the knee lies within a few per cent of it) on the "
                   "run's server CPUs against the C client's closed-loop capacity, or Locust's knee where its sweep "
                   f"found one; goal within {RPS_GOAL:.0%}. † marks a capacity that was not the server's: "
                   f"the client was bound, or the server used under {SATURATED:.0%} of its CPUs."),
             ("table", ["design", "build", "protocol", "CPUs", "µs acceptor + serving", "measured conn/s",
                        "model", "error", "within the goal?"], table)]  # fmt: skip
    found += predicted("Predicted sustained new connections/s, a loop, thread or process per core (model, not "
                       "measured):", predictions, lambda rate: f"{rate:,.0f}", figure,
                       "the model's sustained new connections", verdicts)  # fmt: skip
    missed = [f"{design} ({python}, {protocol}): {reason}" for (design, python, protocol), reason in why.items()]
    missed += [f"{r['design']} ({r['python']}, {r['protocol']}): {r['error']:+.0%}" for r in rows
               if r["judged"] and abs(r["error"]) > RPS_GOAL]  # fmt: skip
    unjudged = sum(not r["judged"] for r in rows)
    missed += [f"{unjudged} not judged (†)"] if unjudged else []
    return found + ([("p", "No accept-storm prediction: " + "; ".join(missed) + ".")] if missed else [])


def section(scenarios, results, measured_verdicts, out):
    """The accept-storm blocks for a run (nothing where it has no accept-storm scenario),
    its figure drawn in `out`."""
    scenario = next((s for s in scenarios if s.name == SCENARIO), None)
    if scenario is None:
        return []
    found, why = inputs(results["points"], scenario)
    rows = check(scenario, results["points"], results["machine"], found)
    predictions = predict(scenario, rows, found)
    return blocks(rows, predictions, why, verdicts(scenario, predictions, measured_verdicts), plot(rows, predictions, out))


def plot(rows, predictions, out):
    """model-storm.png in `out`: each predicted design's sustained new connections/s, the
    model's at 1 to 64 cores (dashed) and the run's (dots). Its name, or None."""
    if not predictions:
        return None
    lines = [(f"{design} ({python}, {protocol}) model", by_cores,
              [(r["cpus"], r["rate"]) for r in rows if (r["design"], r["python"], r["protocol"]) == (design, python, protocol)], [])
             for (design, python, protocol), by_cores in predictions.items()]  # fmt: skip
    return draw({"a new connection per request (dots: measured)": lines}, "new connections/s sustained",
                out / "model-storm.png")
