"""From the load generator's answers to one point's figures.

Latencies come from Locust's statistics of the measured requests (merged over the
agents as a master merges its workers), successes per second from their counts,
the load generator's CPU from each agent's own process. The servers' own /metrics
give the spread over workers and the resources held; redis-server's INFO, its memory.
"""

import statistics
from collections import defaultdict

from locust.stats import RequestStats, StatsEntry

from connlab_loadgen.exposition import samples, total

from . import reference_client
from .clients import LOCUST

LOADGEN_BOUND_PERCENT = 90.0  # a load generator process at this CPU measures itself


def entry(data, request_stats):
    """A StatsEntry from its serialized form after a JSON round trip (keys are strings)."""
    data = dict(data)
    data["response_times"] = {float(k): v for k, v in data["response_times"].items()}
    data["num_reqs_per_sec"] = {int(k): v for k, v in data["num_reqs_per_sec"].items()}
    data["num_fail_per_sec"] = {int(k): v for k, v in data["num_fail_per_sec"].items()}
    return StatsEntry.unserialize(data, request_stats)


def merged(replies, names):
    """One StatsEntry of the requests called `names`, over every agent's answer."""
    request_stats = RequestStats()
    total = StatsEntry(request_stats, "measured", "")
    for reply in replies:
        for name, data in reply["entries"].items():
            if name in names:
                total.extend(entry(data, request_stats))
    return total


def point_metrics(replies, names):
    """The figures every point has (results.schema.json)."""
    measured = merged(replies, names)
    failed = sum(data["num_failures"] for reply in replies for data in reply["entries"].values())
    seconds = statistics.mean(reply["seconds"] for reply in replies)
    loadgen_cpu = max(reply["cpu_percent"] for reply in replies)
    done = measured.num_requests - measured.num_failures
    percentile = measured.get_response_time_percentile if measured.num_requests else (lambda _: None)
    return {
        "rps": done / seconds,
        "p50_ms": percentile(0.5),
        "p99_ms": percentile(0.99),
        "p999_ms": percentile(0.999),
        "max_ms": measured.max_response_time if measured.num_requests else None,
        "errors": failed,
        "requests": done,
        "loadgen_cpu": round(loadgen_cpu, 1),
        "loadgen_bound": loadgen_cpu >= LOADGEN_BOUND_PERCENT,
        "behind_schedule": sum(reply["schedule"]["late"] for reply in replies),
        "histogram": {f"{ms:g}": count for ms, count in sorted(measured.response_times.items())},
    }


def server_resources(text, from_metrics=True):
    """What the server holds: memory, threads, file descriptors (its /metrics, or else a
    reference's INFO reply, which has memory only)."""
    if not from_metrics:
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        return {"memory": float(fields["used_memory_rss"]), "threads": None, "fds": None}
    found = samples(text)
    return {
        "memory": total(found, "connlab_resident_memory_bytes"),
        "threads": total(found, "connlab_threads"),
        "fds": total(found, "connlab_open_fds"),
    }


def per_connection(baseline, now, connections):
    """Resources per connection between two snapshots (None where unknown)."""
    return {
        f"{what}_per_connection": (now[what] - baseline[what]) / connections
        if connections and now[what] is not None and baseline[what] is not None else None
        for what in ("memory", "threads", "fds")
    }  # fmt: skip


def spread(before, after, from_metrics=True):
    """How requests and connections divide across the workers: coefficient of variation
    and busiest/least busy, over every worker that could take them (connlab_workers
    lists the idle ones too). None where a design has no per-worker spread (a thread per
    connection). `before` and `after`: the server's /metrics, or else a reference's INFO
    reply (redis's I/O threads, read as info_threads says)."""
    if not from_metrics:
        before, after = info_threads(before), info_threads(after)
    old, new = samples(before), samples(after)
    roles = {(s.labels["worker"], s.labels["role"]) for s in new.get("connlab_workers", [])}
    figures = {}
    for what, metric, role in (("requests", "connlab_worker_requests_total", "executor"),
                               ("connections", "connlab_connections_active", "reader")):  # fmt: skip
        workers = sorted({worker for worker, has in roles if role in has})
        # Requests served during the point; connections open at its end (they were
        # accepted before it, while the users started).
        counts = [delta(old, new, metric, worker) if what == "requests" else value(new, metric, worker)
                  for worker in workers]
        if len(workers) < 2 or "per-connection" in workers or not sum(counts):
            figures[f"cv_{what}"] = figures[f"max_min_{what}"] = None
            continue
        figures[f"cv_{what}"] = statistics.pstdev(counts) / statistics.mean(counts)
        figures[f"max_min_{what}"] = max(counts) / min(counts) if min(counts) else None
        figures[f"per_worker_{what}"] = dict(zip(workers, counts))
    return figures


def info_threads(text):
    """A redis INFO reply's threads as the /metrics text of a design: Redis 8 lists each
    I/O thread, `io_thread_N:clients=C,reads=R,writes=W` (N=0 the main thread). With I/O
    threads, each (N>0) is a reader holding C clients, with R reads as its requests (a
    pipelined batch is one read), and the main thread, `main`, the one executor of every
    command (total_commands_processed); without, the main thread does both."""
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    threads = {key: dict(pair.split("=") for pair in value.strip().split(","))
               for key, value in fields.items() if key.startswith("io_thread_")}  # fmt: skip
    if not threads:
        raise ValueError("no io_thread_N lines in the INFO reply: redis 8 or later, asked for INFO threads")
    readers = {name: counts for name, counts in threads.items() if name != "io_thread_0"} or threads
    role = "reader" if len(threads) > 1 else "reader-executor"
    lines = [f'connlab_workers{{worker="{name}",role="{role}"}} 1' for name in readers]
    lines += [f'connlab_connections_active{{worker="{name}"}} {counts["clients"]}' for name, counts in readers.items()]
    lines += [f'connlab_worker_requests_total{{worker="{name}"}} {counts["reads"]}' for name, counts in readers.items()]
    if len(threads) > 1:
        lines += ['connlab_workers{worker="main",role="executor"} 1',
                  f'connlab_worker_requests_total{{worker="main"}} {fields.get("total_commands_processed", "0").strip()}']  # fmt: skip
    return "\n".join(lines) + "\n"


def value(found, metric, worker):
    return total(found, metric, worker=worker)


def delta(old, new, metric, worker):
    return value(new, metric, worker) - value(old, metric, worker)


def sustained_rate(points, knee_ms):
    """The rate a sweep (rising) sustains: where its p99 crosses the knee, interpolated
    linearly between the last step that passed (no error, p99 within the knee) and the
    first that did not (half way when that one failed by errors alone); the top rate
    when every step passed, 0 when even the lowest failed."""
    passed = None
    for point in sorted(points, key=lambda p: p["x"]):
        figures = point["metrics"]
        p99 = figures["p99_ms"]
        if not figures["errors"] and p99 is not None and p99 <= knee_ms:
            passed = point
            continue
        if passed is None:
            return 0
        low, below = passed["x"], passed["metrics"]["p99_ms"]
        fraction = (knee_ms - below) / (p99 - below) if p99 is not None and p99 > knee_ms else 0.5
        return low + fraction * (point["x"] - low)
    return passed["x"] if passed else 0


def derive(points, scenarios):
    """The figures read across a cell's points, recomputed whenever a run is drawn: a rate
    sweep's sustained rate (on its highest step, with whether the knee lies beyond the
    sweep; for the C client's closed loop, the rate it served without an error), and
    Locust points that the C client shows to be bound."""
    sweeps = {s.name: s.knee_ms for s in scenarios if s.sweep == "rate"}
    cells = defaultdict(list)
    for point in points:
        if point["scenario"] in sweeps:
            cells[point["scenario"], point["target"], point["python"], point["protocol"], point["repeat"], point["base"],
                  point["client"]].append(point)  # fmt: skip
    for (scenario, *_, client), mine in cells.items():
        if client == LOCUST:
            top = max(mine, key=lambda p: p["x"])
            top["metrics"]["sustained_rate"] = sustained_rate(mine, sweeps[scenario])
            # Every step passed: the knee lies beyond the sweep, and Locust cannot say where.
            top["metrics"]["beyond_sweep"] = top["metrics"]["sustained_rate"] >= top["x"]
            if any(p["metrics"].get("noisy") for p in mine):  # a knee read across a noisy step is noisy too
                top["metrics"]["noisy"] = True
        else:
            for point in mine:
                point["metrics"]["sustained_rate"] = 0.0 if point["metrics"]["errors"] else point["metrics"]["rps"]
    reference_client.mark_lagging(points)
    return points
