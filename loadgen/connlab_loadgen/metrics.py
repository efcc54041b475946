"""The load generator's own Prometheus metrics (connlab_loadgen_*).

Every request Locust records is also counted here, so dashboards can put the
client-side view next to the server's: successes in bulk when the recorder folds them
into Locust's statistics (recorder.py), failures one by one from the `request` event.
"""

import itertools
import logging
import os
from bisect import bisect_left

from prometheus_client import REGISTRY, Counter, Gauge, start_http_server
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.utils import floatToGoString

log = logging.getLogger("connlab.loadgen")

# Seconds; fine below 1 ms, where a loopback round trip lives.
LATENCY_BUCKETS = (
    0.00005, 0.0001, 0.0002, 0.0003, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005,
    0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)
LATENCY_BOUNDS_MS = [round(bound * 1000, 6) for bound in LATENCY_BUCKETS]  # `le`, for bisect_left
PORT = int(os.environ.get("LOADGEN_METRICS_PORT", "9646"))  # 0: no exporter
REQUESTS = Counter("connlab_loadgen_requests", "Requests sent, by command and result", ["command", "result"])


class LatencyHistogram:
    """connlab_loadgen_latency_seconds by command, filled a batch at a time from
    Locust's own rounded response times (two significant digits, precision.py)."""

    def __init__(self):
        self._counts = {}  # command -> counts per bucket, +Inf last
        self._sums = {}  # command -> seconds

    def add(self, command, rounded, milliseconds):
        """Requests counted by rounded response time (ms), `milliseconds` in all."""
        counts = self._counts.setdefault(command, [0] * (len(LATENCY_BUCKETS) + 1))
        for response_time, count in rounded.items():
            counts[bisect_left(LATENCY_BOUNDS_MS, response_time)] += count
        self._sums[command] = self._sums.get(command, 0.0) + milliseconds / 1000.0

    def collect(self):
        family = HistogramMetricFamily(
            "connlab_loadgen_latency_seconds",
            "Request latency seen by the load generator (from the scheduled send time in open-loop mode)",
            labels=["command"],
        )
        bounds = [floatToGoString(bound) for bound in LATENCY_BUCKETS] + ["+Inf"]
        for command, counts in list(self._counts.items()):
            family.add_metric([command], list(zip(bounds, itertools.accumulate(counts))), self._sums[command])
        yield family


LATENCY = LatencyHistogram()
REGISTRY.register(LATENCY)
ACTIVE_USERS = Gauge("connlab_loadgen_active_users", "Locust users running in this process")
OPEN_CONNECTIONS = Gauge("connlab_loadgen_open_connections", "TCP connections open to the server")
CPU_PERCENT = Gauge("connlab_loadgen_cpu_percent", "CPU use of this load generator process (100 = one core)")
CPU_SATURATED = Gauge("connlab_loadgen_cpu_saturated", "1 while this process uses more CPU than LOADGEN_CPU_SATURATED_PERCENT")
BEHIND_SCHEDULE = Counter("connlab_loadgen_sends_behind_schedule", "Open-loop sends that left later than scheduled")

def record_successes(command, rounded, milliseconds):
    """Successful requests of `command`, counted by rounded response time (ms),
    `milliseconds` in all (the recorder's batches)."""
    REQUESTS.labels(command, "ok").inc(sum(rounded.values()))
    LATENCY.add(command, rounded, milliseconds)


def on_request(request_type, name, response_time, exception, **_):
    """Locust's `request` event: failures, and successes that other code fires."""
    if exception is None:
        record_successes(name, {response_time: 1}, response_time)
    else:
        REQUESTS.labels(name, type(exception).__name__).inc()


def start_exporter(port=PORT):
    """Serve this process's metrics on `port` (LOADGEN_METRICS_PORT; 0: none)."""
    if not port:
        return
    start_http_server(port)
    log.info("connlab-loadgen: Prometheus metrics on :%d/metrics", port)
