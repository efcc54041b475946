"""`make model`: the model checked against a bench-scaling table, then its predictions.

    python -m connlab_model [--inputs scaling.json] [--out build/model]

Prints, per design and load, the model's requests/s beside the measured ones at every
CPU count measured (the one-CPU CPU-bound cell is the input, the rest the check) with
the error (and, where the table measured it, p99 beside the model's: shown, not judged),
then the model's requests/s at 4 to 64 cores for each design and load whose checked
cells all came within the goal; the others are named with their worst miss.
New connections (bench-scaling's NEW PING loads) are checked and predicted the same way
(connections.py). Writes model.json and model.png (measured points, the model dashed)
to --out.
"""

import argparse
import json
import sys
from pathlib import Path

from connlab import designs

from . import connections, inputs, wiring
from .compared import draw

GOAL = 0.15  # throughput within 15 % of the measurement
CORES = (4, 8, 16, 32, 64)


def check(data, overheads):
    """[{arch, load, cpus, measured, model, error, input, p99_ms, model_p99_ms, p99_ratio}]
    for every measured cell (p99 None where the table has none)."""
    if inputs.cpu_bound(data) is None:  # no input for requests: bench-scaling LOADS= without work
        return []
    rows, input_load = [], inputs.cpu_bound(data)
    for arch, by_load in data["rps"].items():
        design = designs.of(arch)
        for load_name, cells in by_load.items():
            if load_name not in data["loads"]:
                continue
            for cpus, measured in sorted(cells.items()):
                model = wiring.simulate(design, cpus, data["loads"][load_name], overheads[arch], gil=data["gil"],
                                        connections=data["connections"])  # fmt: skip
                is_input = cpus == 1 and load_name == input_load
                p99 = data["p99_ms"].get(arch, {}).get(load_name, {}).get(cpus)
                rows.append({"arch": arch, "load": load_name, "cpus": cpus, "measured": measured, "model": model.rps,
                             "error": model.rps / measured - 1, "input": bool(is_input), "p99_ms": p99,
                             "model_p99_ms": model.p99_ms, "p99_ratio": model.p99_ms / p99 if p99 else None})  # fmt: skip
    return rows


def predict(data, overheads, checked):
    """({(arch, load): {cores: rps}} where every checked cell met the goal, {(arch, load): worst row} where not)."""
    predictions, missed = {}, {}
    for arch, by_load in data["rps"].items() if overheads else ():  # no input: nothing to predict from
        for load_name in (name for name in by_load if name in data["loads"]):
            mine = [r for r in checked if r["arch"] == arch and r["load"] == load_name and not r["input"]]
            worst = max(mine, key=lambda r: abs(r["error"]), default=None)
            if worst is None or abs(worst["error"]) > GOAL:
                missed[arch, load_name] = worst
                continue
            predictions[arch, load_name] = {
                cores: wiring.simulate(designs.of(arch), cores, data["loads"][load_name], overheads[arch],
                                       gil=data["gil"], connections=data["connections"]).rps
                for cores in CORES}  # fmt: skip
    return predictions, missed


def plot(data, predictions, new_rows, new_predictions, out):
    """model.png: a panel per load, each design's measured figures (dots; hollow: the
    model's input) and the model's predictions (dashed)."""
    panels, labels = {}, {}
    for load_name in data["loads"]:
        panels[load_name], labels[load_name] = [], "requests/s"
        for arch, by_load in data["rps"].items():
            cells = sorted(by_load.get(load_name, {}).items())
            is_input = lambda cpus: cpus == 1 and load_name == inputs.cpu_bound(data)  # noqa: E731
            panels[load_name].append((arch, predictions.get((arch, load_name), {}),
                                      [c for c in cells if not is_input(c[0])], [c for c in cells if is_input(c[0])]))
    for load_name, spec in data["new_loads"].items():
        panels[load_name], labels[load_name] = [], "connect-to-reply p99 (ms)" if "rate" in spec else "new connections/s"
        for arch in data["rps"]:
            mine = [(r["cpus"], r["measured"]) for r in new_rows if (r["arch"], r["load"]) == (arch, load_name)]
            inputs_ = [(r["cpus"], r["measured"]) for r in new_rows if (r["arch"], r["load"]) == (arch, load_name) and r["input"]]
            panels[load_name].append((arch, new_predictions.get((arch, load_name), {}),
                                      [m for m in mine if m not in inputs_], inputs_))  # fmt: skip
    return draw({name: lines for name, lines in panels.items() if lines}, labels, out / "model.png")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", default=inputs.KEPT, help="a bench-scaling table (make bench-scaling writes one)")
    parser.add_argument("--out", default="build/model")
    args = parser.parse_args()
    data = inputs.read(args.inputs)
    overheads = inputs.overheads(data)
    if overheads and (lacking := [arch for arch, by_load in data["rps"].items()
                                  if set(by_load) & set(data["loads"]) and arch not in overheads]):  # fmt: skip
        sys.exit(f"connlab: model: {args.inputs} has no one-CPU cell of the CPU-bound load for {', '.join(lacking)}, "
                 "the model's input: make bench-scaling CPUS=1,2,4 (one CPU and more) writes a table it can use")
    checked = check(data, overheads)
    predictions, missed = predict(data, overheads, checked)
    new_rows = connections.check(data)
    new_predictions, new_missed = connections.predict(data, new_rows)
    print(f"Inputs: {data['source']}")
    print("Cost per request beyond the command (µs), from each design's one-CPU CPU-bound figure: "
          + ", ".join(f"{arch} {seconds * 1e6:.1f}" for arch, seconds in overheads.items()))
    print(f"\nThe model against the measurement, requests/s (goal: within {GOAL:.0%}; * the input)")
    print(f"{'design':<18} {'load':<11} " + " ".join(f"{'%d CPU' % c:>18}" for c in sorted({r['cpus'] for r in checked})))
    for arch, load_name in dict.fromkeys((r["arch"], r["load"]) for r in checked):
        cells = [r for r in checked if r["arch"] == arch and r["load"] == load_name]
        print(f"{arch:<18} {load_name:<11} " + " ".join(
            f"{r['model']:>7.0f}/{r['measured']:<6.0f}" + ("    *" if r["input"] else f"{r['error']:>+5.0%}") for r in cells))
    if any(r["p99_ms"] for r in checked):
        print(f"\nThe model's p99 against the measured (ms; the model's has no client, network or variance of "
              f"service: not judged, shown)")
        for arch, load_name in dict.fromkeys((r["arch"], r["load"]) for r in checked):
            cells = [r for r in checked if r["arch"] == arch and r["load"] == load_name]
            print(f"{arch:<18} {load_name:<11} " + " ".join(
                f"{r['model_p99_ms']:>7.3g}/{r['p99_ms'] or float('nan'):<7.3g}   " for r in cells))
    print(f"\nPredictions, requests/s at {', '.join(map(str, CORES))} cores (Python {data['python']}, "
          f"{'with' if data['gil'] else 'without'} the GIL, {data['connections']} connections)")
    for (arch, load_name), found in predictions.items():
        print(f"{arch:<18} {load_name:<11} " + " ".join(f"{rps:>9.0f}" for rps in found.values()))
    for (arch, load_name), worst in missed.items():
        if worst is None:
            print(f"{arch:<18} {load_name:<11} no prediction: no measured cell beyond its input to check it against")
            continue
        print(f"{arch:<18} {load_name:<11} no prediction: {worst['error']:+.0%} at {worst['cpus']} CPUs "
              f"(model {worst['model']:.0f}, measured {worst['measured']:.0f})")
    print("\n".join(connections.lines(new_rows, new_predictions, new_missed)))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "model.json").write_text(json.dumps({
        "inputs": data["source"], "overhead_us": {a: s * 1e6 for a, s in overheads.items()}, "checked": checked,
        "predictions": [{"arch": a, "load": l, "rps": {str(c): r for c, r in f.items()}} for (a, l), f in predictions.items()],
        "no_prediction": [{"arch": a, "load": l, **(w or {})} for (a, l), w in missed.items()],
        "new_connections": {"checked": new_rows, "no_prediction": [{"arch": a, "load": l, "why": w} for (a, l), w in new_missed.items()],
                            "predictions": [{"arch": a, "load": l, "model": {str(c): v for c, v in f.items()}} for (a, l), f in new_predictions.items()]}},
        indent=1))  # fmt: skip
    plot(data, predictions, new_rows, new_predictions, out)
    print(f"\nconnlab: {out / 'model.json'} and {out / 'model.png'}")


if __name__ == "__main__":
    main()
