"""Models against the real systems, and published results beside the lab's.

A scenario's `[[agreements]]` each name one of the seed's patterns, a metric, and two
variants of it twice: in connlab's model (`model = { better = [...], worse = [...] }`) and
in each real system configured the same way (`real = [{ better, worse }, ...]`), e.g. a
shared socket against SO_REUSEPORT as multi-acceptor/exclusive against socket-sharding,
and as nginx against nginx/reuseport. Each pair is ordered as a prediction is judged
(verdict.py: round by round, at margin `margin`, default 1: which variant is ahead): the
model and the real system agree when both orderings are decided and the same, disagree
when both are decided and opposite, and are inconclusive otherwise. A disagreement
carries the agreement's `why_not`: what in the model differs from the real system.

A scenario's `[[published]]` set a published measurement beside the lab's: its `source`,
what was run (`setup`) and how the lab scales it (`scaled`), and `figures`: {target:
{metric: their value}}, printed beside the lab's median [min–max] for the same target
and metric (`mean_ms` and `sd_ms` computed from the points' latency histograms).
"""

import statistics

from . import verdict
from .clients import LOCUST

ORDER = {"yes": "ahead", "no": "behind"}  # a pair's verdict at its margin, as an ordering


def check(agreement, where):
    """Raise ValueError unless `agreement` has what rows() reads."""
    if not agreement.get("pattern") or not agreement.get("metric") or not agreement.get("real"):
        raise ValueError(f"{where}: an agreement needs `pattern`, `metric`, `model` and `real`")
    if not isinstance(agreement.get("model"), dict) or not isinstance(agreement["real"], list) \
            or not all(isinstance(pair, dict) for pair in agreement["real"]):  # fmt: skip
        raise ValueError(f"{where}: agreement {agreement['pattern'][:40]!r}: `model` is a table "
                         "({ better = [...], worse = [...] }) and `real` a list of them")
    pairs = [agreement["model"], *agreement["real"]]
    if not all(pair.get("better") and pair.get("worse") for pair in pairs):
        raise ValueError(f"{where}: agreement {agreement['pattern'][:40]!r}: each of `model` and `real` names `better` and `worse`")


def rows(scenarios, points, pythons, protocols):
    """One row per agreement, protocol, model build and real system measured."""
    found = []
    for scenario in scenarios:
        for agreement in getattr(scenario, "agreements", []):
            for protocol in protocols:
                for real in agreement["real"]:
                    real_row = _ordering(scenario, agreement, real, points, _builds(scenario, real, points), protocol)
                    if real_row is None:
                        continue
                    for python in pythons:
                        model_row = _ordering(scenario, agreement, agreement["model"], points, [python], protocol)
                        if model_row is not None:
                            found.append(_row(scenario, agreement, protocol, python, model_row, real, real_row))
    return found


def _builds(scenario, pair, points):
    named = {*pair["better"], *pair["worse"]}
    return sorted({p["python"] for p in points if p["scenario"] == scenario.name and p["target"] in named})


def _ordering(scenario, agreement, pair, points, builds, protocol):
    """The pair's verdict row (verdict.prediction_rows) on the first of `builds` where
    both its variants ran in `protocol`; None where none did."""
    named = {*pair["better"], *pair["worse"]}
    prediction = {"claim": agreement["pattern"], "source": "", "metric": agreement["metric"], "better": pair["better"],
                  "worse": pair["worse"], "margin": agreement.get("margin", 1.0), "step": agreement.get("step"),
                  "higher_is_better": agreement.get("higher_is_better", False)}
    for python in builds:
        ran = {p["target"] for p in points if p["scenario"] == scenario.name and p["python"] == python
               and p["protocol"] == protocol}  # fmt: skip
        if named <= ran:
            return verdict.prediction_rows(scenario, prediction, points, [python], lambda _: {}, protocol)[0]
    return None


def _row(scenario, agreement, protocol, python, model, real, real_row):
    orders = [ORDER.get(model["verdict"]), ORDER.get(real_row["verdict"])]
    if None in orders:
        agrees = "not comparable" if "not comparable" in (model["verdict"], real_row["verdict"]) else "inconclusive"
    else:
        agrees = "yes" if orders[0] == orders[1] else "no"
    return {"scenario": scenario.name, "pattern": agreement["pattern"], "metric": agreement["metric"],
            "protocol": protocol, "python": python, "model": _pair(agreement["model"]), "model_row": model,
            "real": _pair(real), "real_row": real_row, "agrees": agrees,
            "why": agreement.get("why_not", "") if agrees == "no" else ""}  # fmt: skip


def _pair(pair):
    return " + ".join(pair["better"]) + " against " + " + ".join(pair["worse"])


def published_rows(scenarios, points):
    """[(source, setup, scaled, [(target, metric, theirs, ours, note)])] of every
    scenario's published figures that the run measured. Ours are Locust's points, or
    the C client's where Locust was the limit (`client` in the file picks one); the note
    names the C client, or marks points whose client was the limit (†)."""
    found = []
    for scenario in scenarios:
        for published in getattr(scenario, "published", []):
            lines = []
            for target, figures in published["figures"].items():
                client, mine, note = _client_points(published, [p for p in points if p["scenario"] == scenario.name
                                                                and p["target"] == target])  # fmt: skip
                for metric, theirs in figures.items():
                    ours = [v for v in (figure(p["metrics"], metric) for p in mine) if v is not None]
                    lines.append((target, metric, theirs, ours, note))
            found.append((published["source"], published.get("setup", ""), published.get("scaled", ""), lines))
    return found


def _client_points(published, points):
    """(client, its points, note): the file's client, else Locust unless it was the
    limit at any point, else a client that never was; else Locust's, marked †."""
    by_client = {}
    for point in points:
        by_client.setdefault(point["client"], []).append(point)
    free = [c for c in (LOCUST, *sorted(by_client)) if c in by_client
            and not any(p["metrics"]["loadgen_bound"] for p in by_client[c])]  # fmt: skip
    client = published.get("client") or (free[0] if free else LOCUST)
    mine = by_client.get(client, [])
    bound = any(p["metrics"]["loadgen_bound"] for p in mine)
    return client, mine, "; ".join(filter(None, (client if client != LOCUST else "", "† load generator bound" if bound else "")))


def figure(metrics, name):
    """A point's figure `name`: as measured, or the mean / standard deviation of its
    latency histogram ({ms: count}) for mean_ms and sd_ms where it was not measured."""
    if metrics.get(name) is not None:
        return metrics[name]
    histogram = {float(ms): count for ms, count in (metrics.get("histogram") or {}).items()}
    total = sum(histogram.values())
    if name not in ("mean_ms", "sd_ms") or not total:
        return None
    mean = sum(ms * count for ms, count in histogram.items()) / total
    if name == "mean_ms":
        return mean
    return (sum(count * (ms - mean) ** 2 for ms, count in histogram.items()) / total) ** 0.5


def spread_text(values):
    """A median [min–max] of `values`, or "not measured"."""
    if not values:
        return "not measured"
    text = verdict._figure(statistics.median(values))
    return text + (f" [{verdict._figure(min(values))}–{verdict._figure(max(values))}]" if len(values) > 1 else "")
