"""`make compare-diff A=<run> B=<run>`: two runs side by side. Per scenario, step,
design, protocol and client, the headline figure of B over A's, with an interval from the
repetitions (the lowest and highest ratio of any repetition of B to any of A: the runs
are not paired round by round); "changed" where the whole interval lies beyond
`MARGIN` either way. Then every verdict that differs. Where the two runs measured
different builds, one each (3.13 in A, 3.13t in B), they are matched across builds.
Written as report.md and index.html, with a figure per scenario, in
results/compare/diff-<A>-<B>/."""

import statistics
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

from . import report  # noqa: E402
from .clients import LOCUST  # noqa: E402

MARGIN = 1.2


def values(results, metric_of, across_builds):
    """{(scenario, step, arch, protocol, client, python or None): [value of each repetition]}."""
    found = defaultdict(list)
    for point in results["points"]:
        value = point["metrics"].get(metric_of(point["scenario"]))
        if value is not None and not point["metrics"]["loadgen_bound"]:
            python = None if across_builds else point["python"]
            found[point["scenario"], point["step"], point["target"], point["protocol"], point["client"], python].append(value)
    return found


def compare(a, b, metric_of, across_builds):
    """Rows [scenario, step, arch, protocol, client, python, metric, A median, B median,
    ratio, low, high, verdict] for every cell both runs measured."""
    left, right = values(a, metric_of, across_builds), values(b, metric_of, across_builds)
    rows = []
    for key in [k for k in left if k in right]:
        before, after = left[key], right[key]
        if min(before) <= 0:
            continue
        ratio = statistics.median(after) / statistics.median(before)
        low, high = min(after) / max(before), max(after) / min(before)
        verdict = "changed" if low >= MARGIN or high <= 1 / MARGIN else "within noise"
        rows.append([*key, metric_of(key[0]), statistics.median(before), statistics.median(after), ratio, low, high, verdict])
    return rows


def verdict_changes(a, b, across_builds):
    """[(scenario, build, protocol, claim, design or "", verdict in A, verdict in B)] that differ."""
    def keyed(results):
        found = {}
        for row in results["verdicts"]:
            build = None if across_builds else row["python"]
            found[row["scenario"], build, row["protocol"], row["claim"], row.get("design", "")] = row["verdict"]
        return found

    left, right = keyed(a), keyed(b)
    return [(*key, left[key], right[key]) for key in left if key in right and left[key] != right[key]]


def figure(path, title, rows):
    """Each (step, design) of a scenario: B / A on a log axis, with its interval."""
    labels = [f"{step} · {arch}" + (f" · {python}" if python else "") + (f" · {protocol}" if protocol != "resp" else "")
              + (f" ({client})" if client != LOCUST else "") for _, step, arch, protocol, client, python, *_ in rows]  # fmt: skip
    fig, ax = plt.subplots(figsize=(10, 0.28 * len(rows) + 1.6))
    y = range(len(rows))
    ratios = [row[9] for row in rows]
    errors = [[r - row[10] for r, row in zip(ratios, rows)], [row[11] - r for r, row in zip(ratios, rows)]]
    colours = ["#c62828" if row[12] == "changed" else "#607d8b" for row in rows]
    ax.errorbar(ratios, y, xerr=errors, fmt="none", ecolor="#999", capsize=2)
    ax.scatter(ratios, y, c=colours, zorder=3, s=18)
    ax.axvline(1, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}×"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(list(y), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(f"B / A ({rows[0][6]}); red: changed beyond {MARGIN:g}× either way")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def machines(a, b):
    """The two machines side by side: what they are, their calibration and their noise."""
    def noise(results, key):
        shares = [p["metrics"][key] for p in results["points"] if p["metrics"].get(key) is not None]
        return f"{statistics.mean(shares):.1%}" if shares else "–"

    def calibration(results):
        readings = results["machine"].get("calibration", [])
        return ", ".join(f"{r['when']} {r['rps']:,.0f}" for r in readings) or "– (run before calibration)"

    rows = [[label, *(str(fn(r)) for r in (a, b))] for label, fn in (
        ("host", lambda r: r["machine"]["hostname"]), ("CPU", lambda r: r["machine"]["cpu_model"]),
        ("CPUs, kernel", lambda r: f"{r['machine']['cpus']}, {r['machine']['kernel']}"),
        ("calibration req/s", calibration), ("steal (mean over points)", lambda r: noise(r, "steal_share")),
        ("noise (mean over points)", lambda r: noise(r, "noise")))]  # fmt: skip
    return [("h2", "The machines"), ("table", ["", "A", "B"], rows), ("p", machine_verdict(a, b))]


def machine_change(a, b):
    """(B's calibration / A's, whether the machines differ) or None without readings:
    the medians differ by more than the margin and no reading of one reaches the other's."""
    first, second = every_reading(a), every_reading(b)
    return report.speed_change(first, second) if first and second else None


def every_reading(results):
    """A run's calibration readings as one: their median and all of them (None before them)."""
    readings = [x for r in results["machine"].get("calibration", []) for x in r["readings"]]
    return {"rps": statistics.median(readings), "readings": readings} if readings else None


def machine_verdict(a, b):
    change = machine_change(a, b)
    if change is None:
        return "One run has no calibration readings: whether a changed verdict moved with the machine is unknown."
    ratio, differ = change
    if differ:
        return (f"B's machine ran the calibration {ratio:.2f}× as fast as A's, beyond the {MARGIN:g}× margin and "
                "the readings' spread: a verdict that changed may have moved with the machine.")
    return (f"B's machine ran the calibration {ratio:.2f}× as fast as A's, within the {MARGIN:g}× margin or the "
            "readings' spread: a verdict that changed did not move with the machine's speed.")


def moved_with(a, b):
    change = machine_change(a, b)
    if change is None:
        return ""
    ratio, differ = change
    return f" (machines {ratio:.2f}×: " + ("moved with the machine?)" if differ else "not the machine)")


def write(out, a, b, names, scenarios):
    """The diff of runs `a` and `b` (their results, `names` their folders) into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    headline = {s.name: s.headline for s in scenarios}
    metric_of = lambda name: headline.get(name, "rps")  # noqa: E731
    builds = set(a["machine"]["pythons"]), set(b["machine"]["pythons"])
    across = not (builds[0] & builds[1])
    rows = compare(a, b, metric_of, across)
    blocks = [("h1", f"connlab: {names[1]} against {names[0]}"),
              ("p", f"A: {names[0]} ({a['started']}, builds {', '.join(sorted(builds[0]))}); "
                    f"B: {names[1]} ({b['started']}, builds {', '.join(sorted(builds[1]))})"
                    + ("; matched across builds" if across else "") + ". Each figure is the scenario's headline, "
                    "the median of the repetitions; the interval runs from the lowest to the highest ratio of any "
                    f"repetition of B to any of A. Changed: the whole interval beyond {MARGIN:g}× either way. "
                    "Points where the load generator was the bottleneck are left out."),
              *machines(a, b),
              ("h2", "Verdicts that changed"),
              ("list", [f"{s} · {py or 'matched builds'} · {pr} · {claim}{f' ({d})' if d else ''}: {va} → {vb}"
                        + moved_with(a, b) for s, py, pr, claim, d, va, vb in verdict_changes(a, b, across)] or ["none"])]  # fmt: skip
    for scenario in dict.fromkeys(row[0] for row in rows):
        mine = [row for row in rows if row[0] == scenario]
        name = f"{scenario}-diff.png"
        figure(out / name, scenario, mine)
        metric = report.COLUMNS.get(mine[0][6], mine[0][6])
        blocks += [("h2", scenario),
                   ("table", ["step", "architecture", "protocol", "client", "build", f"A {metric}", f"B {metric}",
                              "B / A [interval]", ""],
                    [[step, arch, protocol, client, python or "matched", report._number(before, ""),
                      report._number(after, ""), f"{ratio:.2f}× [{low:.2f}–{high:.2f}]", verdict]
                     for _, step, arch, protocol, client, python, _, before, after, ratio, low, high, verdict in mine]),
                   ("img", name, scenario)]  # fmt: skip
    (out / "report.md").write_text(report.markdown(blocks))
    (out / "index.html").write_text(report.page(blocks, out))
    return rows
