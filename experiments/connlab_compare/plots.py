"""The report's figures (matplotlib, PNG): each architecture one colour throughout,
each server build one line style or hatch, the spread of the repeats as error bars
(min to max around the median), and a point where the load generator was the
bottleneck drawn hollow, as the legend says."""

import statistics
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

STYLES = {"3.13": "-", "3.13t": "--", "C": ":"}  # C: the reference, redis-server
HATCHES = {"3.13": "", "3.13t": "//", "C": ""}
LABELS = {"rps": "successful requests/s", "p99_ms": "p99 latency (ms)", "max_ms": "max latency (ms)",
          "memory_per_connection": "KiB per connection", "cv_requests": "coefficient of variation",
          "threads_per_connection": "threads per connection"}  # fmt: skip


def colours(archs):
    palette = plt.get_cmap("tab10").colors
    return {arch: palette[i % len(palette)] for i, arch in enumerate(archs)}


def summarize(points, metric):
    """{(arch, python, x or step): (median, min, max, any loadgen bound)} of `metric`."""
    groups = defaultdict(list)
    for point in points:
        value = point["metrics"].get(metric)
        if value is not None:
            groups[point["arch"], point["python"], point["x"] if point["x"] is not None else point["step"]].append(point)
    return {
        key: (statistics.median(p["metrics"][metric] for p in group), min(p["metrics"][metric] for p in group),
              max(p["metrics"][metric] for p in group), any(p["metrics"]["loadgen_bound"] for p in group))
        for key, group in groups.items()
    }  # fmt: skip


def _legend(fig, archs, palette, pythons, bars=False):
    handles = [Patch(color=palette[a], label=a) for a in archs]
    builds = [p for p in pythons if p != "C"]
    if len(builds) > 1:
        handles += [Patch(facecolor="white", edgecolor="black", hatch=HATCHES[p], label=f"Python {p}") if bars else
                    Line2D([], [], color="black", linestyle=STYLES[p], label=f"Python {p}") for p in builds]
    hollow = "hollow: load generator bound (not compared)"
    handles.append(Patch(facecolor="white", edgecolor="grey", label=hollow) if bars else
                   Line2D([], [], color="grey", marker="o", markerfacecolor="white", linestyle="", label=hollow))
    fig.legend(handles=handles, fontsize=8, loc="outside right center")  # beside the panels, never over a point or the title


def _log_scale(ax):
    """A log axis labelled in plain numbers (2, 5, 10, 50 ms), not powers of ten."""
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    # Of the minor ticks only 2× and 5× a power of ten are labelled: all eight would overlap.
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda value, _: f"{value:g}" if f"{value:g}"[0] in "25" else ""))
    ax.tick_params(axis="y", which="minor", labelsize=7)


def sweep_figure(path, title, panels, metric, archs, pythons, xlabel, log_y=False):
    """One panel per step base (e.g. PING, ECHO): `metric` against the swept value."""
    palette = colours(archs)
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels) + 2.6, 4.4), squeeze=False, layout="constrained")
    for ax, (base, points) in zip(axes[0], panels.items()):
        figures = summarize(points, metric)
        for arch in archs:
            for python in pythons:
                keys = sorted(k for k in figures if k[0] == arch and k[1] == python)
                if not keys:
                    continue
                xs = [k[2] for k in keys]
                med, low, high, bound = zip(*(figures[k] for k in keys))
                ax.errorbar(xs, med, yerr=[[m - lo for m, lo in zip(med, low)], [h - m for m, h in zip(med, high)]],
                            color=palette[arch], linestyle=STYLES[python], capsize=3, linewidth=1.4)
                for x, m, b in zip(xs, med, bound):
                    ax.plot(x, m, "o", color=palette[arch], markerfacecolor="white" if b else palette[arch])
        ax.set_title(base, fontsize=10)
        xs = sorted({k[2] for k in figures})
        ax.set_xscale("log", base=2) if len(xs) > 2 else None
        ax.set_xticks(xs, [f"{x:g}" for x in xs])  # the measured values, nothing between
        ax.set_xlabel(xlabel)
        ax.set_ylabel(LABELS.get(metric, metric))
        if log_y:
            _log_scale(ax)
        ax.grid(alpha=0.3)
    present = {point["arch"] for points in panels.values() for point in points}
    _legend(fig, [a for a in archs if a in present], palette, pythons)
    fig.suptitle(title, fontsize=11)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def bar_figure(path, title, panels, metric, archs, pythons, scale=1.0, log_y=False):
    """One panel per scenario: `metric` of each architecture (and build) at one step."""
    palette = colours(archs)
    drawn = set()  # the architectures with a bar, for the legend
    width = max(4.5, 0.5 * len(archs) * len(pythons)) * len(panels) + 2.6  # + the legend
    fig, axes = plt.subplots(1, len(panels), figsize=(width, 4.8), squeeze=False, layout="constrained")
    for ax, (name, points) in zip(axes[0], panels.items()):
        figures = summarize(points, metric)
        shown = [(a, p) for a in archs for p in pythons if any(k[0] == a and k[1] == p for k in figures)]
        drawn.update(a for a, _ in shown)
        for i, (arch, python) in enumerate(shown):
            (med, low, high, bound), = [v for k, v in figures.items() if k[0] == arch and k[1] == python]
            ax.bar(i, med * scale, color="white" if bound else palette[arch], edgecolor=palette[arch],
                   hatch=HATCHES[python], hatchcolor="black" if not bound else palette[arch], linewidth=1.5,
                   yerr=[[(med - low) * scale], [(high - med) * scale]], capsize=3)  # fmt: skip
        several = len([p for p in pythons if p != "C"]) > 1
        ax.set_xticks(range(len(shown)), [f"{a} {p}" if several and p != "C" else a for a, p in shown],
                      rotation=40, ha="right", fontsize=8)
        ax.set_title(name, fontsize=10)
        ax.set_ylabel(LABELS.get(metric, metric))
        if log_y:
            _log_scale(ax)
        ax.grid(axis="y", alpha=0.3)
    _legend(fig, [a for a in archs if a in drawn], palette, pythons, bars=True)
    fig.suptitle(title, fontsize=11)
    fig.savefig(path, dpi=110)
    plt.close(fig)
