"""The report's sweep figures: a sweep measured at one value only (QUICK) ranks its
designs in bars, both clients side by side; one measured at several stays a sweep."""

import matplotlib

matplotlib.use("Agg")
from matplotlib.container import BarContainer  # noqa: E402

from connlab_compare import plots  # noqa: E402

ARCHS = ["single-thread", "message-balancing"]
# Locust ranks message-balancing first, but the C client finds single-thread faster still.
RPS = {("single-thread", "locust"): 1000.0, ("single-thread", "redis-benchmark"): 5000.0,
       ("message-balancing", "locust"): 2000.0, ("message-balancing", "redis-benchmark"): 3000.0}  # fmt: skip


def point(arch, client, x, repeat, bound=False):
    rps = RPS[arch, client] * (1 + 0.02 * repeat) * (1 + x / 1000)
    return {"scenario": "throughput", "target": arch, "python": "3.13", "step": f"PING @ {x} users", "base": "PING",
            "x": x, "repeat": repeat, "client": client,
            "metrics": {"rps": rps, "p99_ms": 1e4 / rps, "loadgen_bound": bound}}  # fmt: skip


def points(xs=(64,)):
    return [point(arch, client, x, repeat, bound=(client == "locust" and arch == "message-balancing"))
            for x in xs for repeat in (1, 2) for arch, client in RPS]  # fmt: skip


def test_designs_rank_by_their_fastest_clients_median():
    assert plots.ranking(points(), "rps") == [("single-thread", "3.13"), ("message-balancing", "3.13")]
    assert plots.ranking(points(), "p99_ms") == [("single-thread", "3.13"), ("message-balancing", "3.13")]
    slow = [p for p in points() if p["client"] == "locust"]  # Locust alone: the other way round
    assert plots.ranking(slow, "rps") == [("message-balancing", "3.13"), ("single-thread", "3.13")]
    assert plots.ranking(slow, "p99_ms") == [("message-balancing", "3.13"), ("single-thread", "3.13")]


def test_one_value_is_drawn_as_bars_best_first_both_clients_side_by_side(tmp_path):
    path = tmp_path / "throughput.png"
    fig = plots.sweep_figure(path, "Throughput", {"PING": points()}, "rps", ARCHS, ["3.13"], "users")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = fig.axes[0]
    assert [label.get_text() for label in ax.get_yticklabels()] == ["single-thread", "message-balancing"]
    assert ax.get_ylim()[0] > ax.get_ylim()[1]  # row 0, the best, at the top
    bars = [bar for container in ax.containers if isinstance(container, BarContainer) for bar in container]
    assert len(bars) == 4  # two designs, two clients
    solid = [bar for bar in bars if bar.get_facecolor()[3] == 1 and bar.get_facecolor()[:3] != (1, 1, 1)]
    light = [bar for bar in bars if bar.get_facecolor()[3] < 1]
    hollow = [bar for bar in bars if bar.get_facecolor()[:3] == (1, 1, 1)]
    assert (len(solid), len(light), len(hollow)) == (1, 2, 1)  # Locust solid, the C client light, bound hollow
    assert sum(len(c.get_offsets()) for c in ax.collections if not isinstance(c, BarContainer)) == 8  # repetitions
    assert "†" in [text.get_text().strip() for text in ax.texts]
    assert not ax.lines  # no sweep's lines
    labels = [text.get_text() for text in fig.legends[0].get_texts()]
    assert "Locust: solid bar, above" in labels and "redis-benchmark (C client): light bar, below" in labels


def test_several_values_stay_a_sweep(tmp_path):
    path = tmp_path / "throughput.png"
    fig = plots.sweep_figure(path, "Throughput", {"PING": points((8, 64))}, "rps", ARCHS, ["3.13"], "users")
    assert path.exists()
    ax = fig.axes[0]
    assert ax.lines and not [c for c in ax.containers if isinstance(c, BarContainer)]
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["8", "64"]


def test_a_figure_mixes_a_ranked_panel_with_a_swept_one(tmp_path):
    panels = {"PING": points(), "ECHO": [{**p, "base": "ECHO"} for p in points((8, 64))]}
    fig = plots.sweep_figure(tmp_path / "mixed.png", "Throughput", panels, "p99_ms", ARCHS, ["3.13"], "users",
                             log_y=True)  # fmt: skip
    ranked, swept = fig.axes[:2]
    assert ranked.containers and not ranked.lines and ranked.get_xscale() == "log"
    assert swept.lines and swept.get_yscale() == "log"
