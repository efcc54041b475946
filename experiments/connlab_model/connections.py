"""bench-scaling's new-connection loads, checked and predicted (`make model`):
- `NEW PING` (connect, PING, close, so many at a time): the new connections a second
  the server answered, against the capacity of storm.py. Input: the one-CPU cell's
  server CPU per connection, the share of it in threads of no named role taken as the
  acceptor's where the design has one (as accepting.py takes it from a compare run).
  Judged where the server used 90 % of its CPUs or more (else the clients were the
  limit): goal within 15 %.
- `NEW PING beside SLEEP` (at a rate, beside one connection blocking its thread): the
  connect-to-reply p99 against blocked.py's. Inputs: each cell's own server CPU per
  connection, and the lowest p99 any design measured on as many CPUs (that cell the
  input), taken as the client's and the network's and added to the model's (as tails.py
  does for a compare run). Goal within 2×.
"""

from connlab import designs

from .accepting import SATURATED
from .blocked import floors, tail, unmodelled
from .compared import CORES, P99_GOAL, RPS_GOAL
from .storm import capacity


def _costs(data, arch, load, cpus):
    """(acceptor's seconds, serving thread's seconds) per connection in a cell, or None."""
    cost = data["cost_us"].get(arch, {}).get(load, {}).get(cpus)
    if cost is None:
        return None
    share = data["other_share"].get(arch, {}).get(load, {}).get(cpus) or 0.0 if designs.of(arch).acceptor else 0.0
    return cost * share / 1e6, cost * (1 - share) / 1e6


def check(data):
    """[{arch, load, cpus, metric, measured, model, judged, within, input, bound}] for every
    new-connection cell."""
    rows = []
    lowest = floors(((load, cpus), p99) for by_load in data["p99_ms"].values()
                    for load in data["new_loads"] for cpus, p99 in by_load.get(load, {}).items())  # fmt: skip
    for arch, by_load in data["rps"].items():
        design = designs.of(arch)
        for load, spec in data["new_loads"].items():
            cells = by_load.get(load, {})
            blocking = "rate" in spec
            source = None if blocking else _costs(data, arch, load, 1)
            for cpus in sorted(cells):
                costs = _costs(data, arch, load, cpus) if blocking else source
                if costs is None or (blocking and unmodelled(design)):
                    continue
                floor = lowest.get((load, cpus), 0.0)
                if blocking:
                    measured = data["p99_ms"][arch][load][cpus]
                    model = floor + tail(design, cpus, 0.0, sum(costs), rate=spec["rate"], blocked=spec["sleep_ms"] / 1e3,
                                         gil=data["gil"]).p99_ms  # fmt: skip
                    bound, within = None, 1 / P99_GOAL <= model / measured <= P99_GOAL
                else:
                    measured = cells[cpus]
                    model = capacity(design, cpus, *costs, gil=data["gil"])
                    used = data["server_cpu"].get(arch, {}).get(load, {}).get(cpus, 0.0) / cpus
                    bound = f"the server used {used:.0%} of its CPUs" if used < SATURATED else None
                    within = abs(model / measured - 1) <= RPS_GOAL
                is_input = measured == floor if blocking else cpus == 1
                rows.append({"arch": arch, "load": load, "cpus": cpus, "metric": "p99_ms" if blocking else "rps",
                             "measured": measured, "model": model, "input": is_input, "bound": bound, "floor_ms": floor,
                             "judged": not is_input and not bound, "within": within})  # fmt: skip
    return rows


def predict(data, rows):
    """({(arch, load): {cores: the model's figure}} where every judged cell met its goal,
    {(arch, load): why not})."""
    predictions, missed = {}, {}
    for arch, load in dict.fromkeys((r["arch"], r["load"]) for r in rows):
        mine = [r for r in rows if (r["arch"], r["load"]) == (arch, load)]
        judged = [r for r in mine if r["judged"]]
        failing = [r for r in judged if not r["within"]]
        if failing or not judged:
            worst = failing[0] if failing else None
            missed[arch, load] = f"{worst['model'] / worst['measured']:.2f}× at {worst['cpus']} CPUs" if worst else \
                "nothing judged (" + "; ".join(sorted({r["bound"] or "the input" for r in mine})) + ")"  # fmt: skip
            continue
        design, spec = designs.of(arch), data["new_loads"][load]
        if "rate" in spec:
            last = max(judged, key=lambda r: r["cpus"])
            costs = sum(_costs(data, arch, load, last["cpus"]))
            predictions[arch, load] = {cores: last["floor_ms"] + tail(design, cores, 0.0, costs, rate=spec["rate"],
                                                                      blocked=spec["sleep_ms"] / 1e3, gil=data["gil"]).p99_ms
                                       for cores in CORES}  # fmt: skip
        else:
            costs = _costs(data, arch, load, 1)
            predictions[arch, load] = {cores: capacity(design, cores, *costs, gil=data["gil"]) for cores in CORES}
    return predictions, missed


def lines(rows, predictions, missed):
    """What `make model` prints of them."""
    if not rows:
        return []
    found = [f"\nNew connections: the model against the measurement (new connections/s, goal within {RPS_GOAL:.0%}, "
             f"judged where the server used {SATURATED:.0%} of its CPUs, * the input; or connect-to-reply p99 ms, "
             f"goal within {P99_GOAL:g}×; † not judged)"]  # fmt: skip
    for arch, load in dict.fromkeys((r["arch"], r["load"]) for r in rows):
        cells = [r for r in rows if (r["arch"], r["load"]) == (arch, load)]
        found.append(f"{arch:<18} {load:<28} " + " ".join(
            f"{r['cpus']} CPU {r['model']:.4g}/{r['measured']:.4g} "
            + ("*" if r["input"] else "†" if not r["judged"] else "ok" if r["within"] else "miss") for r in cells))
    found.append(f"Predictions at {', '.join(map(str, CORES))} cores")
    found += [f"{arch:<18} {load:<28} " + " ".join(f"{v:>9.4g}" for v in by_cores.values())
              for (arch, load), by_cores in predictions.items()]  # fmt: skip
    found += [f"{arch:<18} {load:<28} no prediction: {why}" for (arch, load), why in missed.items()]
    return found
