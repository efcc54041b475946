"""The load generator's own Prometheus metrics (connlab_loadgen_*), and its CPU watch.

Every request Locust records is also counted here, from the same `request` event, so
dashboards can put the client-side view next to the server's.
"""

import logging
import os

import gevent
import psutil
from prometheus_client import Counter, Gauge, Histogram, start_http_server

log = logging.getLogger("connlab.loadgen")

# Seconds; fine below 1 ms, where a loopback round trip lives.
LATENCY_BUCKETS = (
    0.00005, 0.0001, 0.0002, 0.0003, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005,
    0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)
REQUESTS = Counter("connlab_loadgen_requests", "Requests sent, by command and result", ["command", "result"])
LATENCY = Histogram(
    "connlab_loadgen_latency_seconds",
    "Request latency seen by the load generator (from the scheduled send time in open-loop mode)",
    ["command"],
    buckets=LATENCY_BUCKETS,
)
ACTIVE_USERS = Gauge("connlab_loadgen_active_users", "Locust users running in this process")
OPEN_CONNECTIONS = Gauge("connlab_loadgen_open_connections", "TCP connections open to the server")
CPU_PERCENT = Gauge("connlab_loadgen_cpu_percent", "CPU use of this load generator process (100 = one core)")
CPU_SATURATED = Gauge("connlab_loadgen_cpu_saturated", "1 while this process uses more CPU than CPU_SATURATED_PERCENT")
BEHIND_SCHEDULE = Counter("connlab_loadgen_sends_behind_schedule", "Open-loop sends that left later than scheduled")

CPU_SAMPLE_SECONDS = 2.0
CPU_SATURATED_PERCENT = float(os.environ.get("LOADGEN_CPU_SATURATED_PERCENT", "90"))


# labels() costs more than the increment itself; this runs once per request.
_counters, _histograms = {}, {}


def on_request(request_type, name, response_time, exception, **_):
    result = "ok" if exception is None else type(exception).__name__
    counter = _counters.get((name, result))
    if counter is None:
        counter = _counters[(name, result)] = REQUESTS.labels(name, result)
    counter.inc()
    if exception is None:
        histogram = _histograms.get(name)
        if histogram is None:
            histogram = _histograms[name] = LATENCY.labels(name)
        histogram.observe(response_time / 1000.0)


def start_exporter(port):
    start_http_server(port)
    log.info("connlab-loadgen: Prometheus metrics on :%d/metrics", port)


def watch_cpu(environment, interval=CPU_SAMPLE_SECONDS):
    """Sample this process's CPU; warn once per saturation episode, in the log.

    The web UI's warning comes from Locust's own CPU monitor (cpu_warning), which the
    locustfile makes sample as often as this one does.
    """
    process = psutil.Process()
    process.cpu_percent()  # the first call only starts the measurement
    saturated = False
    while True:
        gevent.sleep(interval)
        percent = process.cpu_percent()
        CPU_PERCENT.set(percent)
        now_saturated = percent >= CPU_SATURATED_PERCENT
        CPU_SATURATED.set(1 if now_saturated else 0)
        if now_saturated and not saturated:
            log.warning(
                "connlab-loadgen: this load generator process is CPU-saturated (%.0f%% of a core): "
                "latencies and rates now measure the load generator, not the server. "
                "Add workers (LOADGEN_WORKERS) or CPUs (LOADGEN_CPUS).",
                percent,
            )
        saturated = now_saturated
