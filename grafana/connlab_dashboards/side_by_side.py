""""Architectures side by side": every architecture selected in $arch, one series each."""

from .common import (RATE, RUN, Ids, arch_variable, base_dashboard, command_variable, gil_variable, row, run_variable,
                     timeseries_panel)

SEL = f'{RUN}, arch=~"$arch"'
SEL_CMD = f'{SEL}, command=~"$command"'

# The load generator labels commands with their parameters ("ECHO 16B", "WORK 100us").
LOADGEN_CMD = f'{RUN}, command=~"($command).*"'


def _quantile(q, metric, by="arch", selector=SEL_CMD):
    return f"histogram_quantile({q}, sum by ({by}, le) (rate({metric}_bucket{{{selector}}}[{RATE}])))"


def build():
    ids = Ids()
    d = (
        base_dashboard(
            "connlab-side-by-side",
            "Architectures side by side",
            "connlab: the same metrics for every selected architecture, server and client side.",
            ["architectures"],
        )
        .with_variable(run_variable())
        .with_variable(gil_variable())
        .with_variable(arch_variable(multi=True))
        .with_variable(command_variable())
    )

    d.with_row(row(ids, "Throughput, latency and errors (server side)"))
    d.with_panel(timeseries_panel(
        ids, "Requests/s", "Requests served per second (connlab_requests_total).", "reqps",
        [(f"sum by (arch) (rate(connlab_requests_total{{{SEL_CMD}}}[{RATE}]))", "{{arch}}")],
    ))
    d.with_panel(timeseries_panel(
        ids, "Protocol errors/s", "Connections closed for malformed RESP framing.", "cps",
        [(f"sum by (arch) (rate(connlab_protocol_errors_total{{{SEL}}}[{RATE}]))", "{{arch}}")],
    ))
    for q in ("0.5", "0.95", "0.99"):
        d.with_panel(timeseries_panel(
            ids, f"Server latency p{round(float(q) * 100)}",
            "From a request being read to its reply being ready, queue wait included.", "s",
            [(_quantile(q, "connlab_request_duration_seconds"), "{{arch}}")], width=8,
        ))

    d.with_row(row(ids, "Client side (load generator)"))
    d.with_panel(timeseries_panel(
        ids, "Client latency p50 / p99 (load generator)",
        "Round trip as the load generator sees it (network and client included).", "s",
        [
            (_quantile("0.5", "connlab_loadgen_latency_seconds", by="command", selector=LOADGEN_CMD), "p50 {{command}}"),
            (_quantile("0.99", "connlab_loadgen_latency_seconds", by="command", selector=LOADGEN_CMD), "p99 {{command}}"),
        ],
    ))
    d.with_panel(timeseries_panel(
        ids, "Client requests/s by result (load generator)",
        "Requests the load generator completed, by result (failures by name).", "reqps",
        [(f"sum by (result) (rate(connlab_loadgen_requests_total{{{LOADGEN_CMD}}}[{RATE}]))", "{{result}}")],
    ))

    d.with_row(row(ids, "Connections and queues"))
    d.with_panel(timeseries_panel(
        ids, "Active connections", "Connections open now.", "short",
        [(f"sum by (arch) (connlab_connections_active{{{SEL}}})", "{{arch}}")], width=8,
    ))
    d.with_panel(timeseries_panel(
        ids, "Accepted connections/s", "Connections accepted per second.", "cps",
        [(f"sum by (arch) (rate(connlab_connections_accepted_total{{{SEL}}}[{RATE}]))", "{{arch}}")], width=8,
    ))
    d.with_panel(timeseries_panel(
        ids, "Accept queue length vs limit",
        "Connections waiting in each listener's accept queue, and the backlog it may hold. "
        "Length near the limit: SYNs are being dropped.", "short",
        [
            (f"max by (arch, listener) (connlab_listen_queue_length{{{SEL}}})", "{{arch}} {{listener}} queued"),
            (f"max by (arch, listener) (connlab_listen_queue_limit{{{SEL}}})", "{{arch}} {{listener}} limit"),
        ], width=8,
    ))
    d.with_panel(timeseries_panel(
        ids, "Queue wait p50 / p99 (message balancing)",
        "Time a parsed request waited for a worker; only message-balancing queues requests.", "s",
        [
            (_quantile("0.5", "connlab_queue_wait_seconds", selector=SEL), "p50 {{arch}}"),
            (_quantile("0.99", "connlab_queue_wait_seconds", selector=SEL), "p99 {{arch}}"),
        ],
    ))
    d.with_panel(timeseries_panel(
        ids, "Queue depth (message balancing)", "Parsed requests waiting for a worker.", "short",
        [(f"sum by (arch) (connlab_queue_depth{{{SEL}}})", "{{arch}}")],
    ))

    d.with_row(row(ids, "CPU and scheduling"))
    d.with_panel(timeseries_panel(
        ids, "CPU per core (host)",
        "Busy fraction of each host CPU (node exporter). The server is pinned to SERVER_CPUS and "
        "the load generator to LOADGEN_CPUS: their cores should be the busy ones.", "percentunit",
        [(f'sum by (cpu) (rate(node_cpu_seconds_total{{mode!="idle"}}[{RATE}]))', "cpu {{cpu}}")],
    ))
    d.with_panel(timeseries_panel(
        ids, "Server CPU by mode", "CPU time of all server processes (1.0 = one full core).", "percentunit",
        [(f"sum by (arch, mode) (rate(connlab_cpu_seconds_total{{{SEL}}}[{RATE}]))", "{{arch}} {{mode}}")],
    ))
    d.with_panel(timeseries_panel(
        ids, "Context switches/s", "Voluntary (blocking) and involuntary (preempted) switches of the server.", "cps",
        [(f"sum by (arch, kind) (rate(connlab_context_switches_total{{{SEL}}}[{RATE}]))", "{{arch}} {{kind}}")], width=8,
    ))
    d.with_panel(timeseries_panel(
        ids, "Threads and processes", "Threads and processes of the server.", "short",
        [
            (f"sum by (arch) (connlab_threads{{{SEL}}})", "{{arch}} threads"),
            (f"sum by (arch) (connlab_processes{{{SEL}}})", "{{arch}} processes"),
        ], width=8,
    ))
    d.with_panel(timeseries_panel(
        ids, "Connection threads started/s", "Threads started to serve one connection each (thread per connection).", "cps",
        [(f"sum by (arch) (rate(connlab_connection_threads_started_total{{{SEL}}}[{RATE}]))", "{{arch}}")], width=8,
    ))

    d.with_row(row(ids, "Memory"))
    d.with_panel(timeseries_panel(
        ids, "Resident memory", "Resident memory of all server processes.", "bytes",
        [(f"sum by (arch) (connlab_resident_memory_bytes{{{SEL}}})", "{{arch}}")],
    ))
    d.with_panel(timeseries_panel(
        ids, "Memory per active connection", "Resident memory divided by open connections (shown while any are open).", "bytes",
        [(
            f"sum by (arch) (connlab_resident_memory_bytes{{{SEL}}}) / (sum by (arch) (connlab_connections_active{{{SEL}}}) > 0)",
            "{{arch}}",
        )],
    ))
    return d
