"""The report of one comparison: results.json (checked against results.schema.json),
the figures, report.md, a self-contained index.html (the figures inline) and
points.csv; then the list of every run beside it (exports.py).

Both documents are rendered from one list of blocks, so they say the same thing.
"""

import base64
import html
import json
import statistics
from collections import defaultdict
from pathlib import Path

from connlab_model import compared

from . import agreement, exports, noise, plots, runner, theory, verdict
from .clients import LOCUST

SCHEMA = Path(__file__).resolve().parent.parent / "results.schema.json"
COLUMNS = {"rps": "req/s", "p50_ms": "p50 ms", "p99_ms": "p99 ms", "p999_ms": "p99.9 ms", "max_ms": "max ms",
           "errors": "errors", "loadgen_cpu": "load gen. CPU %"}  # fmt: skip
SCALE = {"memory_per_connection": 1 / 1024}  # drawn in KiB (plots.LABELS)


def schema():
    return json.loads(SCHEMA.read_text())


def write(out, results, scenarios):
    """results.json, the figures, report.md and index.html in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    figures = draw(out, results, scenarios)
    blocks = document(results, scenarios, figures, compared.section(scenarios, results, out))
    (out / "report.md").write_text(markdown(blocks))
    (out / "index.html").write_text(page(blocks, out))
    exports.write_csv(out, results["points"])
    exports.write_index(out.parent)


def archs_in_order(points):
    order = []
    for point in points:
        if point["target"] not in order:
            order.append(point["target"])
    return order


def per_step(scenario, points):
    """{step label: its points}, in the scenario's order, for the steps that ran."""
    steps = {step.label: [p for p in points if p["step"] == step.label] for step in scenario.steps}
    return {label: group for label, group in steps.items() if group}


def protocols_in(points):
    """The protocols of `points`, RESP (the default) first."""
    found = dict.fromkeys(p["protocol"] for p in points)
    return sorted(found, key=lambda protocol: protocol != "resp")


def spoken(protocol, protocols):
    """How a figure or a table says its protocol: nothing in a run of RESP alone."""
    return "" if protocols == ["resp"] else f" ({protocol.upper()})"


def draw(out, results, scenarios):
    """{scenario name: [figure file names]} (and "" for the overview): a scenario's
    figures once per protocol it ran in, the protocol in their titles and (but RESP's)
    in their names."""
    points, pythons = results["points"], results["machine"]["pythons"]
    every_python = [*pythons, *({p["python"] for p in points} - set(pythons))]
    archs, figures = archs_in_order(points), defaultdict(list)
    protocols = protocols_in(points)
    latency = {}
    for scenario in scenarios:
        for protocol in protocols:
            mine = [p for p in points if p["scenario"] == scenario.name and p["protocol"] == protocol]
            if not mine:
                continue
            stem = scenario.name + ("" if protocol == "resp" else f"-{protocol}")
            title = scenario.title + spoken(protocol, protocols)
            figures[scenario.name] += draw_scenario(out, scenario, mine, stem, title, archs, every_python)
            if not scenario.sweep and scenario.headline.endswith("_ms"):
                latency.update({f"{scenario.name}{spoken(protocol, protocols)}: {step}": group
                                for step, group in per_step(scenario, mine).items()})  # fmt: skip
    if latency:
        plots.bar_figure(out / "p99-by-architecture.png", "p99 latency by architecture", latency, "p99_ms", archs,
                         every_python, log_y=True)
        figures[""].append("p99-by-architecture.png")
    return figures


def draw_scenario(out, scenario, mine, stem, title, archs, every_python):
    """The figures of one scenario's points in one protocol: [file names]."""
    drawn = []
    file = f"{stem}.png"
    x_label = scenario.x_label or ("users" if scenario.sweep == "users" else "target rate (requests/s)")
    if scenario.sweep and scenario.plot == "top":  # the headline at the top of the sweep, in bars
        shown = [p for p in mine if p["metrics"].get(scenario.headline) is not None]
        if not shown:
            return drawn
        last = max(p["x"] for p in shown)
        plots.bar_figure(out / file, title, {f"{last:g} {x_label}": [p for p in shown if p["x"] == last]},
                         scenario.headline, archs, every_python, scale=SCALE.get(scenario.headline, 1.0))  # fmt: skip
    elif scenario.sweep:
        panels = {base: [p for p in mine if p["base"] == base] for base in dict.fromkeys(p["base"] for p in mine)}
        metric = "rps" if scenario.headline in ("rps", "sustained_rate") else scenario.headline
        plots.sweep_figure(out / file, title, panels, metric, archs, every_python, x_label,
                           log_y=metric.endswith("_ms"))  # fmt: skip
    else:
        plots.bar_figure(out / file, title, per_step(scenario, mine), scenario.headline, archs,
                         every_python, log_y=scenario.headline.endswith("_ms"))
    drawn.append(file)
    tops = {base: max(group, key=lambda p: p["x"] if p["x"] is not None else 0)["step"]
            for base, group in _by_base(mine, LOCUST).items()}  # fmt: skip
    spectra = {step: [p for p in mine if p["step"] == step] for step in tops.values()}
    if any(p["metrics"].get("histogram") for group in spectra.values() for p in group):
        plots.spectrum_figure(out / f"{stem}-spectrum.png", f"{title}: latency by percentile",
                              spectra, archs, every_python)  # fmt: skip
        drawn.append(f"{stem}-spectrum.png")
    c_client = plots.c_client(mine)
    closed = {p["step"]: [q for q in mine if q["step"] == p["step"]] for p in mine
              if p["client"] == c_client and p["x"] is None}  # fmt: skip
    if closed:
        plots.bar_figure(out / f"{stem}-capacity.png", f"{title}: capacity ({c_client})",
                         closed, "rps", archs, every_python, client=c_client)  # fmt: skip
        drawn.append(f"{stem}-capacity.png")
    return drawn


def _by_base(points, client):
    groups = defaultdict(list)
    for point in points:
        if point["client"] == client:
            groups[point["base"]].append(point)
    return groups


def median_cell(points, metric):
    values = [p["metrics"].get(metric) for p in points]
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    return (_spread(values, metric) + (" †" if any(p["metrics"]["loadgen_bound"] for p in points) else "")
            + (" ‡" if any(p["metrics"].get("noisy") for p in points) else ""))


def _number(value, metric):
    if metric == "memory_per_connection":
        return f"{value / 1024:.1f} KiB"
    if isinstance(value, float) and abs(value) < 100:
        return f"{value:.3g}"
    return f"{value:,.0f}"


def document(results, scenarios, figures, model=()):
    machine, points = results["machine"], results["points"]
    repeats = f"{machine['repeat']} repetitions" + (", short steps (QUICK)" if machine["quick"] else "")
    blocks = [("h1", f"connlab: which design, for which load — {results['started']}")]
    if results.get("partial"):
        blocks.append(("p", f"PARTIAL REPORT: {results['partial']}. Verdicts stand on what was measured; "
                            "`make compare RESUME=<this folder>` measures the rest."))  # fmt: skip
    blocks += [
        ("p", f"{repeats}, servers on CPUs {machine['server_cpus']}, load generator and C client on CPUs "
              f"{machine['loadgen_cpus']}; {machine['cpu_model']}, {machine['cpus']} CPUs, kernel {machine['kernel']}, "
              f"Docker {machine['docker']}. Server builds: " + ", ".join(f"{p} ({v})" for p, v in machine["python_versions"].items()) + ". "
              "Images: " + ", ".join(f"{k} {v[:19]}" for k, v in machine["images"].items()) + "."
              + (f" Commit {machine['commit'][:10]}" + (" with local changes." if machine.get("dirty") else ".")
                 if machine.get("commit") else "")),
        ("p", "Each figure is the median over the repetitions, [min–max] when there are several. "
              "† marks a point where the load generator was the bottleneck (a process at ≥ 90 % of a core, or a "
              "client under 0.8× of the other client's rate at the same closed-loop step, whatever its CPU): it is "
              "drawn hollow and never compared. A verdict's ratio is computed within each round of repetitions; its "
              "interval runs from the lowest to the highest round. A round counts for the prediction when its ratio "
              "clears the margin, against it otherwise: yes when the rounds for it lead by two (two of two, three of "
              "three, three of four), no when the rounds against it do, inconclusive otherwise; a prediction still "
              "inconclusive after the planned rounds is measured in further rounds while the run's budget lasts. "
              "Throughput verdicts stand on the client that served the most at the step; others on Locust's points, "
              "or the C client's (redis-benchmark for RESP, wrk for HTTP) where Locust could not judge (bound, or a "
              "rate sweep whose knee lies beyond its last rate). Each protocol's points are judged on their own: a "
              "prediction has a verdict per build and per protocol."),
        ("p", "Protocols: " + ", ".join(machine.get("protocols", ["resp"])) + ". "
              + ("Not run: " + "; ".join(map(not_run_text, results["not_run"])) + "." if results.get("not_run")
                 else "Every scenario and target asked ran in each.")),  # fmt: skip
        *([("p", "Every server ran with " + ", ".join(f"{k}={v}" for k, v in machine["settings"].items()) + ".")]
          if machine.get("settings") else []),
        ("h2", "The machine during the run"),
        ("p", machine_noise(machine, points)),
        ("h2", "What the literature predicts, what was measured"),
        ("table", ["scenario", "build", "protocol", "prediction", "measured", "ratio [interval]", "agrees?", "client"],
         [[v["scenario"], v["python"], v["protocol"], f"{v['claim']} ({v['source']})",
           v["measured"] + (f" — {v['why']}" if v["why"] else ""), _interval(v), v["verdict"], v["client"]]
          for v in results["verdicts"]]),
    ]  # fmt: skip
    blocks += real_system_blocks(scenarios, points, machine)
    blocks += model
    if len(machine.get("protocols", ["resp"])) > 1:
        blocks += [("h2", "Where the protocol changes a verdict"),
                   ("list", protocol_changes(results["verdicts"]) or ["none: every prediction has the same verdict in each protocol"]),
                   *io_thread_blocks(points)]  # fmt: skip
    bound = sorted({(p["scenario"], p["target"], p["python"], p["protocol"], p["step"], p["client"],
                     p["metrics"].get("bound_by", f"{p['metrics']['loadgen_cpu']:.0f} % CPU"))
                    for p in points if p["metrics"]["loadgen_bound"]})  # fmt: skip
    blocks.append(("h2", "Points where the load generator was the bottleneck"))
    blocks.append(("list", [f"{s} · {a} ({py}, {pr}) · {st} · {c}: {why}" for s, a, py, pr, st, c, why in bound] or ["none"]))
    blocks.append(("h2", "Points measured again for noise"))
    blocks.append(("list", [f"{p['scenario']} · {p['target']} ({p['python']}, {p['protocol']}) · {p['step']} · {p['client']} · round "
                            f"{p['repeat']}: {p['metrics']['remeasured_from_noise']:.0%} of its CPUs to noise, then "
                            f"{p['metrics']['noise']:.0%}" + (" ‡ still noisy: not compared" if p["metrics"].get("noisy") else "")
                            for p in points if p["metrics"].get("remeasured_from_noise") is not None] or ["none"]))  # fmt: skip
    blocks.append(("h2", "Outcomes that differ between repetitions"))
    pythons = [*machine["pythons"], "C"]
    blocks.append(("list", placements(points, scenarios, pythons) or ["none: every design's repetitions agree within 2×"]))
    for name in figures.get("", []):
        blocks.append(("img", name, "overview"))
    for scenario in scenarios:
        mine = [p for p in points if p["scenario"] == scenario.name]
        if not mine:
            continue
        blocks += [("h2", scenario.title), ("p", scenario.description), ("p", "What to look for: " + scenario.look_for)]
        if scenario.server_cpus == "all":
            blocks.append(("p", f"Servers on all {machine['cpus']} CPUs, the load generator sharing them."))
        metrics = [*COLUMNS, *scenario.columns]
        rows = []
        for protocol in protocols_in(mine):
            for step in dict.fromkeys(p["step"] for p in mine):
                for client in dict.fromkeys(p["client"] for p in mine):
                    for arch in archs_in_order(mine):
                        for python in dict.fromkeys(p["python"] for p in mine):
                            cell = [p for p in mine if p["step"] == step and p["target"] == arch and p["python"] == python
                                    and p["client"] == client and p["protocol"] == protocol]  # fmt: skip
                            if cell:
                                rows.append([step, client, arch, python, protocol, *(median_cell(cell, m) for m in metrics)])
        blocks.append(("table", ["step", "client", "architecture", "build", "protocol",
                                 *(COLUMNS.get(m, m) for m in metrics)], rows))  # fmt: skip
        for protocol in protocols_in(mine):
            blocks += theory_blocks(scenario, [p for p in mine if p["protocol"] == protocol], protocol)
            blocks += thread_blocks(scenario, [p for p in mine if p["protocol"] == protocol], protocol)
        blocks += [("img", name, scenario.title) for name in figures.get(scenario.name, [])]
    return blocks


def real_system_blocks(scenarios, points, machine):
    """The models against the real systems configured the same way, and published
    results beside the lab's (agreement.py); nothing where the run measured none."""
    blocks = []
    rows = agreement.rows(scenarios, points, machine["pythons"], machine.get("protocols", ["resp"]))
    if rows:
        blocks += [("h2", "Models against the real systems"),
                   ("p", "Each of the seed's patterns in connlab's model and in a real system configured the same way: "
                         "which of its two variants is ahead, round by round, as a prediction is judged. They agree when "
                         "both orderings are decided and the same; where they disagree, why (docs/references.md)."),
                   ("table", ["pattern", "protocol", "model (build)", "its ratio [interval]", "real system",
                              "its ratio [interval]", "agree?"],
                    [[r["pattern"] + f" ({r['metric']})", r["protocol"], f"{r['model']} ({r['python']})",
                      f"{_interval(r['model_row'])} {r['model_row']['verdict']}", r["real"],
                      f"{_interval(r['real_row'])} {r['real_row']['verdict']}",
                      r["agrees"] + (f" — {r['why']}" if r["why"] else "")] for r in rows])]  # fmt: skip
    for source, setup, scaled, lines in agreement.published_rows(scenarios, points):
        if any(ours for _, _, _, ours, _ in lines):
            blocks += [("h2", f"Reproduced: {source}"), ("p", " ".join(filter(None, (setup, scaled)))),
                       ("table", ["target", "figure", "theirs", "ours, median [min–max]"],
                        [[target, metric, theirs if isinstance(theirs, str) else f"{theirs:g}",
                          agreement.spread_text(ours) + (f" ({note})" if note else "")]
                         for target, metric, theirs, ours, note in lines])]
    return blocks


def not_run_text(row):
    """What a run left out in a protocol, and why (runner.not_run)."""
    return f"{row['scenario'] or row['target']} in {row['protocol']} ({row['reason']})"


def protocol_changes(rows):
    """A line for each prediction whose verdict differs between protocols."""
    return [f"{scenario} · {python} · {claim.rstrip('.')}" + (f" ({design})" if design else "") + ": "
            + ", ".join(f"{protocol} {row['verdict']} ({_interval(row)}, {row['client']})" for protocol, row in by.items())
            for scenario, python, claim, design, by in verdict.changed_by_protocol(rows)]  # fmt: skip


def io_thread_blocks(points):
    """Where a design has one I/O thread (message balancing): how busy it was in each
    protocol at every traced step, runnable (on a CPU, or waiting for one) ms per
    second: near 1000 it is the bottleneck (it reads and parses every request for the
    workers), whatever the workers could do."""
    found = defaultdict(dict)
    for point in points:
        io = point["metrics"].get("threads", {}).get("I/O thread")
        if io and point["client"] == LOCUST:
            found[point["scenario"], point["step"], point["target"], point["python"]].setdefault(
                point["protocol"], []).append(io)
    lines = [f"{scenario} · {step} · {arch} ({python}): the I/O thread runnable "
             + ", ".join(f"{_spread([f['cpu_ms'] + f['runq_ms'] for f in io])} ms/s in {protocol} (on a CPU "
                         f"{_spread([f['cpu_ms'] for f in io])})" for protocol, io in by.items())
             for (scenario, step, arch, python), by in found.items() if len(by) > 1]  # fmt: skip
    if not lines:
        return []
    return [("p", "The one I/O thread of a message-balancing design reads and parses every request for the workers. "
                  "Runnable (on a CPU, or waiting for one) near 1000 ms/s, it is the bottleneck whatever the workers "
                  "could do:"), ("list", lines)]  # fmt: skip


def machine_noise(machine, points):
    """The machine's speed at the start and end of the run (the calibration step) and what
    the server's CPUs lost to anything but the lab while it measured (noise.py)."""
    readings = machine.get("calibration", [])
    shares = [p["metrics"]["noise"] for p in points if p["metrics"].get("noise") is not None]
    steals = [p["metrics"]["steal_share"] for p in points if p["metrics"].get("steal_share") is not None]
    if not readings and not shares:
        return "Not measured: this run was made before connlab measured the machine's noise."
    text = ("Calibration (redis-benchmark, one connection, one PING at a time, against redis-server on the server "
            f"CPUs; median of {runner.CALIBRATION_READINGS}): " + ", ".join(f"{r['when']} {r['rps']:,.0f} req/s [{min(r['readings']):,}–"
                                                 f"{max(r['readings']):,}] at {r['at']}" for r in readings) + ". ")
    if len(readings) > 1:
        change, moved = speed_change(readings[0], readings[-1])
        text += (f"The machine's speed changed {change:.2f}× during the run: more than the {verdict.MARGIN:g}× margin and "
                 "beyond the readings' own spread, so a verdict may have moved with the machine. " if moved else
                 f"From the first to the last reading the machine's speed moved {change:.2f}×: within the "
                 f"{verdict.MARGIN:g}× margin or the readings' own spread. ")
    if shares:
        text += (f"Over the points, the server's CPUs went to the hypervisor (steal) {statistics.mean(steals):.1%} of the "
                 f"time on average, and to anything but the lab {statistics.mean(shares):.1%} (steal included; at most "
                 f"{max(shares):.0%} in one point). A point where other processes took over {noise.OTHERS:.0%}, or they and "
                 f"the hypervisor over {noise.NOISY:.0%}, is measured again once, and marked ‡ and left out of the verdicts "
                 "if it stays so.")
    return text


def speed_change(first, last):
    """(last / first, whether the machine moved): the medians differ by more than the
    margin and the two sets of readings do not overlap."""
    change = last["rps"] / first["rps"]
    apart = min(last["readings"]) > max(first["readings"]) or max(last["readings"]) < min(first["readings"])
    return change, apart and max(change, 1 / change) > verdict.MARGIN


def theory_blocks(scenario, points, protocol="resp"):
    """What M/M/c and c × M/M/1 predict for each step's measured load (theory.py), in
    one protocol."""
    if not scenario.theory:
        return []
    rows, inputs = [], []
    for step in dict.fromkeys(p["step"] for p in points):
        if step not in scenario.theory.get("steps", [step]):
            continue
        classes = theory.step_classes([p for p in points if p["step"] == step])
        for measured in scenario.measure:
            command = measured.split()[0]  # "PING": the server counts commands
            models = theory.predict(scenario.theory["workers"], classes, command) if command in classes else {}
            for name, found in models.items():
                rows.append([step, measured, name, *(["grows without end"] * 2 if found is None else
                                                      [_number(found["mean_ms"], ""), _number(found["p99_ms"], "")])])  # fmt: skip
        if classes:
            inputs.append(f"{step}: " + ", ".join(f"{c} {rate:,.0f}/s × {1000 * s:.3g} ms" for c, (rate, s) in classes.items()))
    if not rows:
        return []
    return [("p", f"Queueing theory for the load the servers measured in {protocol} ({scenario.theory['workers']} workers; "
                  "docs/experiments.md): " + "; ".join(inputs) + "."),
            ("table", ["step", "request", "model", "mean ms", "p99 ms"], rows)]  # fmt: skip


def thread_blocks(scenario, points, protocol="resp"):
    """Where each design's server threads spent the traced steps (schedstat.py), in one protocol."""
    rows = []
    for step in scenario.threads:
        mine = [p for p in points if p["base"] == step and "threads" in p["metrics"]]
        for arch in archs_in_order(mine):
            for python in dict.fromkeys(p["python"] for p in mine):
                cell = [p["metrics"]["threads"] for p in mine if p["target"] == arch and p["python"] == python]
                for role in dict.fromkeys(r for found in cell for r in found):
                    figures = [found[role] for found in cell if role in found]
                    rows.append([step, arch, python, role, figures[0]["threads"], figures[0].get("nice", "–"),
                                 *(_spread([f[k] for f in figures]) for k in ("cpu_ms", "runq_ms", "delay_us"))])  # fmt: skip
    if not rows:
        return []
    return [("p", f"Where the server's threads spent the step in {protocol} (the kernel's schedstat, read before and after it, "
                  "warm-up included; median [min–max] over the repetitions). Waiting for a CPU is time runnable "
                  "in a run queue; a thread off the CPU and not runnable waits for a socket, a queue or the GIL."),
            ("table", ["step", "architecture", "build", "threads", "count", "nice", "on a CPU ms/s",
                       "waiting for a CPU ms/s", "µs waited per run"], rows)]  # fmt: skip


def _spread(found, metric=""):
    """Median [min–max] of `found`."""
    text = _number(statistics.median(found), metric)
    return text + (f" [{_number(min(found), metric)}–{_number(max(found), metric)}]" if len(found) > 1 else "")


def _interval(row):
    if row["ratio"] is None:
        return "–"
    text = f"{row['ratio']:.2f}×"
    return text + (f" [{row['low']:.2f}–{row['high']:.2f}]" if row["rounds"] > 1 else " (one round)")


def placements(points, scenarios, pythons):
    """Where a design's repetitions fell into two outcomes on a figure a prediction reads:
    how often each occurred (a property of the design, e.g. where the hash put the slow
    connections, not noise around one answer)."""
    lines, seen = [], set()
    for scenario in scenarios:
        for prediction in scenario.predictions:
            metric = prediction["metric"]
            for python, protocol in ((python, protocol) for python in pythons for protocol in protocols_in(points)):
                read = verdict.at_step(points, scenario, prediction, python, LOCUST, protocol=protocol)
                for arch in dict.fromkeys(p["target"] for p in read):
                    found = [p["metrics"].get(metric) for p in read if p["target"] == arch]
                    found = [v for v in found if v is not None]
                    split = verdict.outcomes(found)
                    key = (scenario.name, read[0]["step"] if read else "", arch, python, protocol, metric)
                    if not split or key in seen:
                        continue
                    seen.add(key)
                    (low_n, low), (high_n, high) = split
                    where = f"{scenario.name} · {key[1]} · {arch} ({python}, {protocol}): {COLUMNS.get(metric, metric)}"
                    if len(found) == 2:  # two values cannot tell two outcomes from noise
                        lines.append(f"{where} {_number(low, metric)} and {_number(high, metric)} in its two repetitions, "
                                     f"{high / low:.1f}× apart (REPEAT ≥ 3 tells outcomes from noise)")  # fmt: skip
                    else:
                        lines.append(f"{where} near {_number(low, metric)} in {low_n} of {len(found)} repetitions, "
                                     f"near {_number(high, metric)} in {high_n}")  # fmt: skip
    return lines


def markdown(blocks):
    lines = []
    for kind, *rest in blocks:
        if kind == "h1":
            lines += [f"# {rest[0]}", ""]
        elif kind == "h2":
            lines += [f"## {rest[0]}", ""]
        elif kind == "p":
            lines += [rest[0], ""]
        elif kind == "list":
            lines += [f"- {item}" for item in rest[0]] + [""]
        elif kind == "img":
            lines += [f"![{rest[1]}]({rest[0]})", ""]
        elif kind == "table":
            header, rows = rest
            cell = lambda text: str(text).replace("|", "\\|").replace("\n", " ")  # noqa: E731
            lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows] + [""]
    return "\n".join(lines)


def page(blocks, out):
    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'><title>connlab comparison</title><style>",
             "body{font:14px/1.45 system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}",
             "table{border-collapse:collapse;margin:1em 0;font-size:12px}td,th{border:1px solid #ccc;padding:3px 6px;"
             "text-align:left;vertical-align:top}th{background:#f3f3f3}img{max-width:100%;margin:1em 0}",
             ".yes{background:#e3f4e3}.no{background:#fde6e6}.inconclusive{background:#fdf6dc}", "</style></head><body>"]  # fmt: skip
    for kind, *rest in blocks:
        if kind in ("h1", "h2", "p"):
            parts.append(f"<{kind}>{html.escape(rest[0])}</{kind}>")
        elif kind == "list":
            parts.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in rest[0]) + "</ul>")
        elif kind == "img":
            data = base64.b64encode((out / rest[0]).read_bytes()).decode()
            parts.append(f"<img alt='{html.escape(rest[1])}' src='data:image/png;base64,{data}'>")
        elif kind == "table":
            header, rows = rest
            parts.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>")
            for row in rows:
                outcome = next((c for c in row if c in ("yes", "no", "inconclusive")), "")
                parts.append(f"<tr class='{outcome}'>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>")
            parts.append("</table>")
    return "\n".join(parts + ["</body></html>"]) + "\n"
