"""The report's figures (matplotlib, PNG): each architecture one colour throughout,
each server build one line style or hatch, the median with its repetitions' range as
error bars and every repetition as a small dot beside it, the C reference client's
capacity as squares beside Locust's circles, a point where the load generator was the
bottleneck drawn hollow, and latency distributions as percentile spectra. A sweep
measured at one value only (QUICK) is drawn as a ranking instead: one bar per design,
best first, Locust's solid bar beside the C client's light one."""

import statistics
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullLocator  # noqa: E402
from .clients import LOCUST  # noqa: E402

STYLES = {"3.13": "-", "3.13t": "--", "C": ":"}  # C: the reference, redis-server
HATCHES = {"3.13": "", "3.13t": "//", "C": ""}
LABELS = {"rps": "successful requests/s", "p99_ms": "p99 latency (ms)", "max_ms": "max latency (ms)",
          "memory_per_connection": "KiB per connection", "cv_requests": "coefficient of variation",
          "threads_per_connection": "threads per connection"}  # fmt: skip
LIGHT = 0.35  # the C client's bars: its design's colour, this opaque, edged


def colours(archs):
    palette = plt.get_cmap("tab10" if len(archs) <= 10 else "tab20").colors  # one colour each
    return {arch: palette[i % len(palette)] for i, arch in enumerate(archs)}


def summarize(points, metric, client=LOCUST):
    """{(arch, python, x or step): (median, min, max, any loadgen bound, [every value])}
    of `metric`, over one client's points."""
    groups = defaultdict(list)
    for point in points:
        value = point["metrics"].get(metric)
        if value is not None and point["client"] == client:
            groups[point["target"], point["python"], point["x"] if point["x"] is not None else point["step"]].append(point)
    summary = {}
    for key, group in groups.items():
        found = [p["metrics"][metric] for p in group]
        bound = any(p["metrics"]["loadgen_bound"] for p in group)
        summary[key] = (statistics.median(found), min(found), max(found), bound, found)
    return summary


def c_client(points):
    """The C client that measured some of `points` (a figure is drawn for one protocol,
    whose C client is one), or None."""
    return next((p["client"] for p in points if p["client"] != LOCUST), None)


def _repetitions(ax, x, found, colour, offset=0.0):
    """Every repetition, a small dot beside its median."""
    if len(found) > 1:
        ax.scatter([x + offset] * len(found), found, s=9, color=colour, alpha=0.55, zorder=3, linewidths=0)


def _legend(fig, archs, palette, pythons, lines=True, bars=False, reference=False, hollow=True):
    """`lines` and `bars`: the marks the figure has; `reference`: the C client drawn
    beside Locust (its name), if any; `hollow`: the bound points' entry (its text, when a string)."""
    handles = [Patch(color=palette[a], label=a) for a in archs]
    if reference and lines:
        handles += [Line2D([], [], color="grey", marker="o", linestyle="-", label="Locust"),
                    Line2D([], [], color="grey", marker="s", linestyle="-.", label=f"{reference} (C client)")]
    if reference and bars:
        handles += [Patch(facecolor="grey", edgecolor="grey", label="Locust: solid bar, above"),
                    Patch(facecolor=to_rgba("grey", LIGHT), edgecolor="grey",
                          label=f"{reference} (C client): light bar, below")]  # fmt: skip
    builds = [p for p in pythons if p != "C"]
    if len(builds) > 1:
        handles += [Line2D([], [], color="black", linestyle=STYLES[p], label=f"Python {p}") for p in builds if lines]
        handles += [Patch(facecolor="white", edgecolor="black", hatch=HATCHES[p], label=f"Python {p}")
                    for p in builds if bars]  # fmt: skip
    if hollow:
        label = hollow if isinstance(hollow, str) else "hollow: load generator bound (not compared)"
        handles.append(Patch(facecolor="white", edgecolor="grey", label=label) if bars else
                       Line2D([], [], color="grey", marker="o", markerfacecolor="white", linestyle="", label=label))
    fig.legend(handles=handles, fontsize=8, loc="outside right center")  # beside the panels, never over a point or the title


def _log_scale(ax, axis="y"):
    """A log axis labelled in plain numbers (2, 5, 10, 50 ms), not powers of ten."""
    getattr(ax, f"set_{axis}scale")("log")
    scale = getattr(ax, f"{axis}axis")
    scale.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    # Of the minor ticks only 2× and 5× a power of ten are labelled: all eight would overlap.
    scale.set_minor_formatter(FuncFormatter(lambda value, _: f"{value:g}" if f"{value:g}"[0] in "25" else ""))
    ax.tick_params(axis=axis, which="minor", labelsize=7)


def ranking(points, metric):
    """[(arch, python)], best first: by the better of its clients' medians of `metric`
    (the most requests/s; the least latency, memory or spread)."""
    higher = metric in ("rps", "sustained_rate")
    medians = defaultdict(list)
    for client in dict.fromkeys(p["client"] for p in points):
        for (arch, python, _), (median, *_) in summarize(points, metric, client).items():
            medians[arch, python].append(median)
    return sorted(medians, key=lambda design: -max(medians[design]) if higher else min(medians[design]))


def sweep_figure(path, title, panels, metric, archs, pythons, xlabel, log_y=False):
    """One panel per step base (e.g. PING, ECHO): `metric` against the swept value, or,
    where the base was measured at one value only, its designs ranked in bars."""
    palette = colours(archs)
    swept = {base: sorted({p["x"] for p in points if p["x"] is not None}) for base, points in panels.items()}
    ranked = {base for base, xs in swept.items() if len(xs) == 1}
    rows = max((len({(p["target"], p["python"]) for p in panels[base]}) for base in ranked), default=0)
    widths = [6.4 if base in ranked else 5.2 for base in panels]
    fig, axes = plt.subplots(1, len(panels), figsize=(sum(widths) + 2.6, max(4.4, 1.4 + 0.36 * rows)), squeeze=False,
                             width_ratios=widths, layout="constrained")  # fmt: skip
    for ax, (base, points) in zip(axes[0], panels.items()):
        if base in ranked:
            _ranked_panel(ax, [p for p in points if p["x"] is not None], metric, palette, pythons, log_y)
            ax.set_title(f"{base} at {swept[base][0]:g} {xlabel}", fontsize=10)
        else:
            _sweep_panel(ax, points, metric, archs, pythons, palette, xlabel, log_y)
            ax.set_title(base, fontsize=10)
    present = {point["target"] for points in panels.values() for point in points}
    reference = c_client([p for points in panels.values() for p in points])
    _legend(fig, [a for a in archs if a in present], palette, pythons, lines=len(ranked) < len(panels),
            bars=bool(ranked), reference=reference,
            hollow="hollow, †: load generator bound (not compared)" if ranked else True)  # fmt: skip
    fig.suptitle(title, fontsize=11)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return fig


def _sweep_panel(ax, points, metric, archs, pythons, palette, xlabel, log_y):
    """A line per design (and build) over the swept values."""
    figures = summarize(points, metric)
    # The C client's squares a little to the right of Locust's circles at the same x.
    for client, marker, style, shift in ((LOCUST, "o", None, 1.0), (c_client(points), "s", "-.", 1.04)):
        mine = figures if client == LOCUST else summarize(points, metric, client)
        for arch in archs:
            for python in pythons:
                keys = sorted(k for k in mine if k[0] == arch and k[1] == python and not isinstance(k[2], str))
                if not keys:
                    continue
                xs = [k[2] * shift for k in keys]
                med, low, high, bound, every = zip(*(mine[k] for k in keys))
                ax.errorbar(xs, med, yerr=[[m - lo for m, lo in zip(med, low)], [h - m for m, h in zip(med, high)]],
                            color=palette[arch], linestyle=style or STYLES[python], capsize=3,
                            linewidth=1.4 if client == LOCUST else 1.0)  # fmt: skip
                for x, m, b, found in zip(xs, med, bound, every):
                    ax.plot(x, m, marker, color=palette[arch], markerfacecolor="white" if b else palette[arch])
                    _repetitions(ax, x, found, palette[arch])
    xs = sorted({k[2] for k in figures if not isinstance(k[2], str)})
    ax.set_xscale("log", base=2) if len(xs) > 2 else None
    ax.set_xticks(xs, [f"{x:g}" for x in xs])  # the measured values, nothing between
    ax.set_xlabel(xlabel)
    ax.set_ylabel(LABELS.get(metric, metric))
    if log_y:
        _log_scale(ax)
    ax.grid(alpha=0.3)


def _ranked_panel(ax, points, metric, palette, pythons, log_x):
    """One value's `metric` as horizontal bars, the best design at the top: each design's
    Locust bar solid, the C client's light beside it, every repetition a dot on its bar."""
    order = ranking(points, metric)
    clients = [c for c in (LOCUST, c_client(points)) if any(p["client"] == c for p in points)]
    height = 0.8 / len(clients)
    for i, client in enumerate(clients):
        figures = {k[:2]: v for k, v in summarize(points, metric, client).items()}
        for row, design in enumerate(order):
            if design not in figures:
                continue
            med, _, _, bound, found = figures[design]
            y, colour = row + (i - (len(clients) - 1) / 2) * height, palette[design[0]]
            face = "white" if bound else colour if client == LOCUST else to_rgba(colour, LIGHT)
            ax.barh(y, med, height, color=face, edgecolor=colour, hatch=HATCHES[design[1]], hatchcolor="black",
                    linewidth=1.2)  # fmt: skip
            ax.scatter(found, [y] * len(found), s=9, color="black", alpha=0.55, zorder=3, linewidths=0)
            if bound:
                ax.text(max(found), y, " †", va="center", fontsize=9)
    several = len([p for p in pythons if p != "C"]) > 1
    ax.set_yticks(range(len(order)), [f"{a} {p}" if several and p != "C" else a for a, p in order], fontsize=8)
    ax.set_ylim(len(order) - 0.5, -0.5)  # the best at the top
    ax.set_xlabel(LABELS.get(metric, metric))
    if log_x:
        _log_scale(ax, "x")
    ax.grid(axis="x", alpha=0.3)


def bar_figure(path, title, panels, metric, archs, pythons, scale=1.0, log_y=False, client=LOCUST):
    """One panel per scenario: `metric` of each architecture (and build) at one step."""
    palette = colours(archs)
    drawn = set()  # the architectures with a bar, for the legend
    width = max(4.5, 0.5 * len(archs) * len(pythons)) * len(panels) + 2.6  # + the legend
    fig, axes = plt.subplots(1, len(panels), figsize=(width, 4.8), squeeze=False, layout="constrained")
    for ax, (name, points) in zip(axes[0], panels.items()):
        figures = summarize(points, metric, client)
        shown = [(a, p) for a in archs for p in pythons if any(k[0] == a and k[1] == p for k in figures)]
        drawn.update(a for a, _ in shown)
        for i, (arch, python) in enumerate(shown):
            (med, low, high, bound, found), = [v for k, v in figures.items() if k[0] == arch and k[1] == python]
            ax.bar(i, med * scale, color="white" if bound else palette[arch], edgecolor=palette[arch],
                   hatch=HATCHES[python], hatchcolor="black" if not bound else palette[arch], linewidth=1.5,
                   yerr=[[(med - low) * scale], [(high - med) * scale]], capsize=3)  # fmt: skip
            _repetitions(ax, i, [v * scale for v in found], "black", offset=0.28)
        several = len([p for p in pythons if p != "C"]) > 1
        ax.set_xticks(range(len(shown)), [f"{a} {p}" if several and p != "C" else a for a, p in shown],
                      rotation=40, ha="right", fontsize=8)
        ax.set_title(name, fontsize=10)
        ax.set_ylabel(LABELS.get(metric, metric))
        if log_y:
            _log_scale(ax)
        ax.grid(axis="y", alpha=0.3)
    _legend(fig, [a for a in archs if a in drawn], palette, pythons, lines=False, bars=True)
    fig.suptitle(title, fontsize=11)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# The percentiles a spectrum's axis marks: x is 1 / (1 - p), so each "nine" is one decade.
NINES = (0.5, 0.9, 0.99, 0.999, 0.9999)


def spectrum(histogram):
    """([1 / (1 - p)], [latency ms]) of a histogram {ms: count}: the latency at or under
    which each fraction p of the requests completed, up to the last request."""
    total = sum(histogram.values())
    xs, ys, seen = [], [], 0
    for ms, count in sorted((float(k), v) for k, v in histogram.items()):
        seen += count
        fraction = min(seen / total, 1 - 1 / (10 * total))  # the last request: one decade past its rank
        xs.append(1 / (1 - fraction))
        ys.append(ms)
    return xs, ys


def spectrum_figure(path, title, panels, archs, pythons):
    """One panel per step: each design's latency by percentile, p50 to p99.99 on a log
    axis (as wrk2's and HdrHistogram's plots), over its repetitions merged."""
    palette = colours(archs)
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels) + 2.6, 4.4), squeeze=False, layout="constrained")
    drawn = set()
    for ax, (label, points) in zip(axes[0], panels.items()):
        for arch in archs:
            for python in pythons:
                merged = defaultdict(int)
                for point in points:
                    if point["target"] == arch and point["python"] == python and point["client"] == LOCUST:
                        for ms, count in point["metrics"].get("histogram", {}).items():
                            merged[ms] += count
                if sum(merged.values()) < 2:
                    continue
                xs, ys = spectrum(merged)
                ax.step(xs, ys, where="post", color=palette[arch], linestyle=STYLES[python], linewidth=1.3)
                drawn.add(arch)
        ax.set_xscale("log")
        ax.set_xlim(1 / (1 - NINES[0]), 1 / (1 - NINES[-1]))
        ax.set_xticks([1 / (1 - p) for p in NINES], [f"{100 * p:g}%" for p in NINES])
        ax.xaxis.set_minor_locator(NullLocator())
        _log_scale(ax)
        ax.set_xlabel("percentile")
        ax.set_ylabel("latency (ms)")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
    _legend(fig, [a for a in archs if a in drawn], palette, pythons, hollow=False)
    fig.suptitle(title, fontsize=11)
    fig.savefig(path, dpi=110)
    plt.close(fig)
