"""What the literature predicts, what was measured, whether they agree, and how sure.

Computed from the points, never written by hand. A prediction names a metric, the step
it is read at (the last of that step's sweep: the highest load), and either two groups
(`better`, `worse`: the worse group must be `margin` times behind, in the metric's bad
direction) or one (`similar`: all within `margin` of one another).

The repetitions run in rounds over every scenario and design, so a slow spell of the
machine touches a round alike: the ratio is computed within each round (each group's
median over its designs), and its interval is the lowest to the highest of those
per-round ratios. A round counts for the prediction when its ratio clears the margin:
**yes** when the rounds for it lead those against by DECIDES, **no** when the rounds
against do, **inconclusive** otherwise (a sequential test: more rounds can decide it).
A point where a client was the bottleneck, or a rate sweep whose every step passed (its
knee lies beyond the sweep), is never compared: the verdict falls back to the other
client's points at the same step where there are any (and says so), else is "not
comparable". Throughput is read first on the client that served the most at the step.
A point that stayed noisy is left out, and so is one whose server was less busy than a
prediction's `busy`. Where it disagrees, the prediction's `why_not` says why, with the
evidence filled in from the run (its {fields}).
"""

import statistics

from . import reference_client
from .clients import LOCUST

MARGIN = 1.2
DECIDES = 2  # rounds one side must lead by: Wald's SPRT, a round's chance of clearing 0.2 against 0.8
BIMODAL_GAP = 2.0  # repetitions this far apart are different outcomes, not noise


def clients(protocol):
    """Locust, then the protocol's C client (where it has one)."""
    c_client = reference_client.client(protocol)
    return (LOCUST, c_client.name) if c_client else (LOCUST,)


def at_step(points, scenario, prediction, python, client, x=None, protocol="resp"):
    """The points a prediction reads: its step (else the scenario's last) at the highest
    value of its sweep (or at `x`), one build, one client, one protocol."""
    base = prediction.get("step") or scenario.steps[-1].base
    mine = [p for p in points if p["scenario"] == scenario.name and p["python"] == python and p["base"] == base
            and p["client"] == client and p["protocol"] == protocol and (x is None or p["x"] == x)]  # fmt: skip
    last = max(mine, key=lambda p: -float("inf") if p["x"] is None else p["x"], default=None)
    return [p for p in mine if p["step"] == last["step"]] if last else []


def values(points, metric, busy=None):
    """({arch: {repeat: value}}, any point the client could not judge: load-generator
    bound, or a rate sweep whose knee lies beyond its highest rate). A point that stayed
    noisy when measured again is no evidence: its round is left out for its design, as
    is a point whose server used under `busy` CPUs (a prediction that compares designs
    at saturation)."""
    found, bound, left_out = {}, False, []
    for point in points:
        value = point["metrics"].get(metric)
        if point["metrics"].get("noisy"):
            left_out.append(f"{point['target']} round {point['repeat']}: noisy")
            continue
        if busy and used(point["metrics"]) < busy:
            left_out.append(f"{point['target']} round {point['repeat']}: the server used "
                            f"{used(point['metrics']):.2f} CPU, under {busy:g}")
            continue
        if value is not None:
            found.setdefault(point["target"], {})[point["repeat"]] = value
            bound |= point["metrics"]["loadgen_bound"] or point["metrics"].get("beyond_sweep", False)
    return found, bound, left_out


def used(figures):
    """The CPUs a point's server used, had noise not taken its share of them (a server
    that used all that was left to it was busy all the time)."""
    return (figures.get("server_cpu") or 0) / (1 - min(figures.get("noise") or 0, 0.99))


def _left_out(judged, left_out):
    if not left_out:
        return judged
    return {**judged, "measured": judged["measured"] + " (left out: " + "; ".join(left_out) + ")"}


def groups_of(prediction):
    if "similar" in prediction:
        return {"similar": prediction["similar"]}
    return {"better": prediction["better"], "worse": prediction["worse"]}


def round_ratios(prediction, found):
    """The prediction's ratio in every round where each design it names was measured."""
    groups = groups_of(prediction)
    named = [arch for archs in groups.values() for arch in archs if arch in found]
    rounds = sorted(set.intersection(*(set(found[arch]) for arch in named))) if named else []
    ratios = []
    for r in rounds:
        if "similar" in groups:
            spread = [found[arch][r] for arch in named]
            if min(spread) <= 0:  # no ratio to zero: that round says nothing
                continue
            if "above" in prediction:  # one-sided: how far the best of the others rises above it
                base, others = found[prediction["above"]][r], [found[a][r] for a in named if a != prediction["above"]]
                higher = prediction.get("higher_is_better", False)
                ratios.append(max(others) / base if higher else base / min(others))
            else:
                ratios.append(max(spread) / min(spread))
            continue
        better, worse = (statistics.median(found[a][r] for a in groups[g] if a in found) for g in ("better", "worse"))
        if prediction.get("higher_is_better", False):
            better, worse = worse, better
        if better > 0:
            ratios.append(worse / better)
    return ratios


def judge(prediction, found):
    """The verdict of `prediction` on {arch: {repeat: value}}: a dict with the verdict
    ("yes", "no", "inconclusive", "not comparable"), the ratio (median of the rounds'),
    its interval and the number of rounds, and what was measured in words."""
    margin = prediction.get("margin", MARGIN)
    groups = groups_of(prediction)
    words = "; ".join(f"{name}: " + ", ".join(f"{arch} {_cell(found[arch])}" for arch in archs if arch in found)
                      for name, archs in groups.items())  # fmt: skip
    missing = [arch for archs in groups.values() for arch in archs if arch not in found]
    ratios = [] if missing else round_ratios(prediction, found)
    result = {"verdict": "not comparable", "ratio": None, "low": None, "high": None, "rounds": len(ratios)}
    if not ratios:
        return {**result, "measured": words + f" ({', '.join(missing) or 'a design'} not measured in a common round)"}
    similar = "similar" in groups
    decided = _decide(ratios, margin, at_most=similar)
    what = (f"the best above {prediction['above']} by" if "above" in prediction else "highest / lowest") if similar \
        else "better group ahead by"
    text = f"{words}; {what} {_figure(decided['ratio'])}×{_over_rounds(ratios, decided)} (predicted: {'≤' if similar else '≥'} {margin:g}×)"
    return {**result, **decided, "measured": text}


def _decide(ratios, margin, at_most):
    """The verdict, median ratio and interval of per-round `ratios` against `margin`
    (predicted: at most, else at least). A round counts for the prediction when its
    ratio clears the margin, against it otherwise; one side DECIDES rounds ahead decides
    (a sequential sign test, docs/experiments.md): two rounds that agree, three of
    three, four of five."""
    cleared = sum(ratio <= margin if at_most else ratio >= margin for ratio in ratios)
    lead = cleared - (len(ratios) - cleared)
    verdict = "yes" if lead >= DECIDES else "no" if lead <= -DECIDES else "inconclusive"
    return {"verdict": verdict, "ratio": statistics.median(ratios), "low": min(ratios), "high": max(ratios),
            "cleared": cleared}


def _over_rounds(ratios, decided):
    if len(ratios) < 2:
        return " (one round: no interval)"
    return (f" [{_figure(min(ratios))}–{_figure(max(ratios))}] over {len(ratios)} rounds, "
            f"{decided['cleared']} of them clearing the margin")


def judge_change(prediction, arch, before, after):
    """The verdict of a prediction about a design against itself, from `before` to
    `after` (each {repeat: value}): expect "more" (after / before at least `margin` in
    every round) or "same" (within `margin` either way). A dict as judge's."""
    margin, more = prediction.get("margin", MARGIN), prediction["expect"] == "more"
    rounds = sorted(set(before) & set(after))
    ratios = [after[r] / before[r] for r in rounds if before[r] > 0]
    if not more:  # "same": how far from 1, either way
        ratios = [max(r, 1 / r) if r > 0 else float("inf") for r in ratios]
    result = {"verdict": "not comparable", "ratio": None, "low": None, "high": None, "rounds": len(ratios)}
    if not ratios:
        return {**result, "measured": f"{arch} not measured at both ends in a common round"}
    decided = _decide(ratios, margin, at_most=not more)
    text = (f"{arch} {_cell(before)} → {_cell(after)}: {'×' if more else 'off by ×'}{_figure(decided['ratio'])}"
            f"{_over_rounds(ratios, decided)} (predicted: {'≥' if more else '≤'} {margin:g}×)")  # fmt: skip
    return {**result, **decided, "measured": text}


def outcomes(values, gap=BIMODAL_GAP):
    """Where repetitions fall into two outcomes (a gap of `gap`× between neighbours, as
    when the hash sends slow connections to one process or the other): [(count, median)]
    of the low and the high one; None where they do not."""
    ordered = sorted(v for v in values if v is not None)
    if len(ordered) < 2 or ordered[0] <= 0:
        return None
    jumps = [ordered[i + 1] / ordered[i] for i in range(len(ordered) - 1)]
    widest = max(range(len(jumps)), key=jumps.__getitem__)
    if jumps[widest] < gap:
        return None
    low, high = ordered[: widest + 1], ordered[widest + 1 :]
    return [(len(low), statistics.median(low)), (len(high), statistics.median(high))]


def _cell(by_repeat):
    found = list(by_repeat.values())
    text = _figure(statistics.median(found))
    return text + (f" [{_figure(min(found))}–{_figure(max(found))}]" if len(found) > 1 else "")


def _figure(value):
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def verdicts(scenarios, points, pythons, context, protocols=("resp",)):
    """One row per prediction, server build and protocol, each judged on that protocol's
    points alone: claim, source, measured, verdict (with its ratio and interval), the
    client whose points it stands on, and why. A protocol in which a scenario has no
    point (it could not be said there) has no rows; a scenario with none at all has the
    first protocol's (not comparable)."""
    rows = []
    for scenario in scenarios:
        ran = [protocol for protocol in protocols
               if any(p["scenario"] == scenario.name and p["protocol"] == protocol for p in points)]  # fmt: skip
        for protocol in ran or list(protocols)[:1]:
            for prediction in scenario.predictions:
                found = change_rows if "designs" in prediction else prediction_rows
                rows += [{**row, "protocol": protocol} for row in found(scenario, prediction, points, pythons, context, protocol)]
    return rows


def prediction_rows(scenario, prediction, points, pythons, context, protocol):
    """The rows of a prediction that compares designs, one per build."""
    rows = []
    for python in pythons:
        judged = None
        order = clients_for(points, scenario, prediction, python, protocol)
        for client in order:
            found, bound, left_out = values(at_step(points, scenario, prediction, python, client, protocol=protocol),
                                            prediction["metric"], prediction.get("busy"))
            if not found:
                continue
            attempt = _left_out(judge(prediction, found), left_out)
            if bound:
                attempt = {**attempt, "verdict": "not comparable", "measured": attempt["measured"]
                           + f" ({client}: load generator bound, or the knee beyond its sweep)"}  # fmt: skip
            judged = judged or {**attempt, "client": client}
            if attempt["verdict"] != "not comparable":
                judged = {**attempt, "client": client}
                if client != LOCUST:
                    judged["measured"] += f" — judged on {client}'s points: " + (
                        "the fastest client at this step" if client == order[0] else
                        f"{'Locust' if order[0] == LOCUST else order[0]} could not judge")
                break
        judged = judged or {**judge(prediction, {}), "client": LOCUST}
        why = ""
        if judged["verdict"] == "no" and prediction.get("why_not"):
            why = prediction["why_not"].format(**context(python))
        rows.append({"scenario": scenario.name, "python": python, "claim": prediction["claim"],
                     "source": prediction["source"], "metric": prediction["metric"], "why": why,
                     **judged})  # fmt: skip
    return rows


def clients_for(points, scenario, prediction, python, protocol="resp"):
    """The clients in the order a prediction reads them: Locust first (its latencies are
    an open loop's where a step has a rate), except for throughput, where a closed loop
    measures its client's time per request as well as the server's: there the client
    that served the most at the step (the median of its points) comes first."""
    if prediction["metric"] != "rps":
        return clients(protocol)

    def served(client):
        rates = [p["metrics"]["rps"] for p in at_step(points, scenario, prediction, python, client, protocol=protocol)]
        return statistics.median(rates) if rates else 0.0

    return sorted(clients(protocol), key=served, reverse=True)


def change_rows(scenario, prediction, points, pythons, context=None, protocol="resp"):
    """The rows of a prediction about designs against themselves, one per design and
    build where `from` and `to` name no build (a change over the sweep, on each build),
    else one per design."""
    start, end = prediction.get("from", {}), prediction.get("to", {})
    builds = [None] if "python" in start or "python" in end else pythons
    rows = []
    for python in builds:
        ends = [(side.get("python", python), side.get("x")) for side in (start, end)]
        if any(build not in pythons for build, _ in ends):
            continue
        read = [values(at_step(points, scenario, prediction, build, LOCUST, x, protocol), prediction["metric"],
                       prediction.get("busy")) for build, x in ends]  # fmt: skip
        bound = any(held for _, held, _ in read)
        for arch in prediction["designs"]:
            judged = judge_change(prediction, arch, *(found.get(arch, {}) for found, _, _ in read))
            judged = _left_out(judged, [why for _, _, left_out in read for why in left_out if why.startswith(f"{arch} ")])
            if bound:
                judged = {**judged, "verdict": "not comparable", "measured": judged["measured"] + " (load generator bound)"}
            rows.append({"scenario": scenario.name, "python": python or " → ".join(dict.fromkeys(b for b, _ in ends)),
                         "claim": prediction["claim"], "source": prediction["source"], "metric": prediction["metric"],
                         "why": "", "client": LOCUST, "design": arch, **judged})  # fmt: skip
    return rows


def changed_by_protocol(rows):
    """[(scenario, build, claim, design or "", {protocol: row})] of the predictions whose
    verdict differs between protocols (same build, same design)."""
    found = {}
    for row in rows:
        found.setdefault((row["scenario"], row["python"], row["claim"], row.get("design", "")), {})[row["protocol"]] = row
    return [(*key, by) for key, by in found.items() if len({row["verdict"] for row in by.values()}) > 1]


def reads(row, scenario):
    """[(design, build)] of what a verdict row reads: more rounds of these decide it."""
    prediction = next(p for p in scenario.predictions if p["claim"] == row["claim"])
    if "designs" in prediction:
        return [(row["design"], build) for build in row["python"].split(" → ")]
    return [(arch, row["python"]) for archs in groups_of(prediction).values() for arch in archs]
