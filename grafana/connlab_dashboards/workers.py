""""Workers": how evenly one architecture spreads connections and requests over workers."""

from .common import (RATE, RUN, Ids, arch_variable, bargauge_panel, base_dashboard, gil_variable, row, run_variable,
                     timeseries_panel)

SEL = f'{RUN}, arch="$arch"'


def _share(metric):
    return f"sum by (worker) (rate({metric}{{{SEL}}}[{RATE}])) / scalar(sum(rate({metric}{{{SEL}}}[{RATE}])))"


def _imbalance(metric):
    """Busiest worker over the mean: 1 is perfectly even, N is one worker of N doing all."""
    per_worker = f"sum by (worker) (rate({metric}{{{SEL}}}[{RATE}]))"
    return f"max({per_worker}) / avg({per_worker})"


def build():
    ids = Ids()
    d = base_dashboard(
        "connlab-workers",
        "Workers",
        "connlab: the spread of accepted connections and requests across the workers of one architecture.",
        ["workers"],
    ).with_variable(run_variable()).with_variable(gil_variable()).with_variable(arch_variable(multi=False))

    d.with_row(row(ids, "Spread over the selected time range"))
    d.with_panel(bargauge_panel(
        ids, "Accepted connections per worker", "Connections each worker accepted in the selected range.", "short",
        [(f"sum by (worker) (increase(connlab_connections_accepted_total{{{SEL}}}[$__range]))", "worker {{worker}}")],
        width=8,
    ))
    d.with_panel(bargauge_panel(
        ids, "Requests per worker", "Requests each worker served in the selected range.", "short",
        [(f"sum by (worker) (increase(connlab_worker_requests_total{{{SEL}}}[$__range]))", "worker {{worker}}")],
        width=8,
    ))
    d.with_panel(bargauge_panel(
        ids, "Active connections per worker", "Connections each worker holds now.", "short",
        [(f"sum by (worker) (connlab_connections_active{{{SEL}}})", "worker {{worker}}")],
        width=8,
    ))

    d.with_row(row(ids, "Over time"))
    d.with_panel(timeseries_panel(
        ids, "Requests/s per worker", "Requests served per second by each worker.", "reqps",
        [(f"sum by (worker) (rate(connlab_worker_requests_total{{{SEL}}}[{RATE}]))", "worker {{worker}}")], stack=True,
    ))
    d.with_panel(timeseries_panel(
        ids, "Share of requests per worker", "Each worker's fraction of the requests (even spread: 1/workers).", "percentunit",
        [(_share("connlab_worker_requests_total"), "worker {{worker}}")], stack=True,
    ))
    d.with_panel(timeseries_panel(
        ids, "Accepted connections/s per worker", "Connections accepted per second by each worker.", "cps",
        [(f"sum by (worker) (rate(connlab_connections_accepted_total{{{SEL}}}[{RATE}]))", "worker {{worker}}")], stack=True,
    ))
    d.with_panel(timeseries_panel(
        ids, "Active connections per worker", "Connections each worker holds.", "short",
        [(f"sum by (worker) (connlab_connections_active{{{SEL}}})", "worker {{worker}}")], stack=True,
    ))
    d.with_panel(timeseries_panel(
        ids, "Load per event loop (what a dispatch policy reads)",
        "An event loop's connections, open or handed to it, plus one while it executes a request; the legend names "
        "single-acceptor's DISPATCH policy. Single-process designs only.", "short",
        [(f"connlab_worker_load{{{SEL}}} * on (instance) group_left (dispatch) connlab_server_info{{{SEL}}}",
          "{{dispatch}} loop {{worker}}")], width=24,
    ))
    d.with_panel(timeseries_panel(
        ids, "Imbalance: busiest worker / mean",
        "1 is a perfectly even spread; with N workers, N means one worker does everything.", "none",
        [
            (_imbalance("connlab_worker_requests_total"), "requests"),
            (_imbalance("connlab_connections_accepted_total"), "accepted connections"),
        ], width=24, min_value=1,
    ))
    return d
