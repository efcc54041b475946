"""What the literature predicts, what was measured, and whether they agree.

Computed from the points, never written by hand. A prediction names a metric, the step
it is read at (the last of that step's sweep: the highest load), and either two groups
(`better`, `worse`: the worse group's median must be at least `margin` times the better
group's, in the metric's bad direction) or one (`similar`: all within `margin` of one
another). A value is each architecture's median over the repeats. A point where the
load generator was the bottleneck is never compared: the verdict is then "not
comparable". Where the measurement disagrees, the prediction's `why_not` says why,
with the evidence filled in from the run (its {fields}).
"""

import statistics

MARGIN = 1.2


def values(points, scenario, prediction, python):
    """{arch: (median value, any point load-generator bound)} for `prediction`."""
    step = prediction.get("step")
    candidates = [p for p in points if p["scenario"] == scenario.name and p["python"] == python]
    if step:
        last = max((p for p in candidates if p["base"] == step), key=lambda p: p["x"] or 0, default=None)
        candidates = [p for p in candidates if last and p["step"] == last["step"]]
    else:
        final = {p["step"] for p in candidates if p["step"] == scenario.steps[-1].label}
        candidates = [p for p in candidates if p["step"] in final]
    found = {}
    for arch in {p["arch"] for p in candidates}:
        mine = [p for p in candidates if p["arch"] == arch and p["metrics"].get(prediction["metric"]) is not None]
        if mine:
            median = statistics.median(p["metrics"][prediction["metric"]] for p in mine)
            found[arch] = (median, any(p["metrics"]["loadgen_bound"] for p in mine))
    return found


def judge(prediction, found):
    """(verdict, what was measured in words): verdict is "yes", "no" or "not comparable"."""
    margin = prediction.get("margin", MARGIN)
    groups = {"similar": prediction["similar"]} if "similar" in prediction else {
        "better": prediction["better"], "worse": prediction["worse"]}  # fmt: skip
    measured = {name: {arch: found[arch] for arch in archs if arch in found} for name, archs in groups.items()}
    words = "; ".join(
        f"{name}: " + ", ".join(f"{arch} {_figure(value)}{' (load generator bound)' if bound else ''}"
                                for arch, (value, bound) in got.items())
        for name, got in measured.items()
    )
    if any(not got for got in measured.values()):
        return "not comparable", words + " (an architecture it names was not measured)"
    if any(bound for got in measured.values() for _, bound in got.values()):
        return "not comparable", words
    if "similar" in measured:
        spread = [value for value, _ in measured["similar"].values()]
        ratio = max(spread) / min(spread) if min(spread) > 0 else float("inf")
        return ("yes" if ratio <= margin else "no"), f"{words}; highest / lowest = {ratio:.2f} (similar: ≤ {margin:g})"
    better = statistics.median(value for value, _ in measured["better"].values())
    worse = statistics.median(value for value, _ in measured["worse"].values())
    higher = prediction.get("higher_is_better", False)
    ratio = (better / worse if higher else worse / better) if min(better, worse) > 0 else float("inf")
    return ("yes" if ratio >= margin else "no"), f"{words}; better group ahead by {ratio:.2f}× (predicted: ≥ {margin:g}×)"


def _figure(value):
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def verdicts(scenarios, points, pythons, context):
    """One row per prediction and server build: claim, source, measured, verdict, why."""
    rows = []
    for scenario in scenarios:
        for prediction in scenario.predictions:
            for python in pythons:
                found = values(points, scenario, prediction, python)
                verdict, measured = judge(prediction, found)
                why = ""
                if verdict == "no" and prediction.get("why_not"):
                    why = prediction["why_not"].format(**context(python))
                rows.append({"scenario": scenario.name, "python": python, "claim": prediction["claim"],
                             "source": prediction["source"], "metric": prediction["metric"],
                             "measured": measured, "verdict": verdict, "why": why})  # fmt: skip
    return rows
