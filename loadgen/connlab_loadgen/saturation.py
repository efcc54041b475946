"""Is the load generator, not the server, the bottleneck?

Each load generator process samples its own CPU every CPU_SAMPLE_SECONDS and keeps the
peak of the current test; a worker sends its peak to the master with each report. A
process at CPU_SATURATED_PERCENT of a core or more measures itself: the figures of that
test are the load generator's ceiling, not the server's. That is said where the user
looks: the log, a metric, the web UI (a banner on every tab), the end-of-test summary.
"""

import logging
import os

import gevent
import psutil
from locust.runners import MasterRunner

from . import metrics

log = logging.getLogger("connlab.loadgen")
CPU_SAMPLE_SECONDS = 2.0
CPU_SATURATED_PERCENT = float(os.environ.get("LOADGEN_CPU_SATURATED_PERCENT", "90"))
ADVICE = "add load generator CPUs (LOADGEN_CPUS; one worker each, LOADGEN_WORKERS) or pipeline requests"


class CpuWatch:
    """This process's CPU now and at its peak in the current test; on a master, the
    peaks its workers report."""

    def __init__(self):
        self.now = self.peak = 0.0
        self.worker_peaks = {}  # worker id -> peak it reported

    def reset(self):
        """A test starts: peaks start again."""
        self.peak = 0.0
        self.worker_peaks.clear()

    def sample(self, percent):
        saturated = percent >= CPU_SATURATED_PERCENT
        if saturated and self.now < CPU_SATURATED_PERCENT:
            log.warning("connlab-loadgen: this load generator process is CPU-saturated (%.0f%% of a core): "
                        "latencies and rates now measure the load generator, not the server; %s.", percent, ADVICE)
        self.now, self.peak = percent, max(self.peak, percent)
        metrics.CPU_PERCENT.set(percent)
        metrics.CPU_SATURATED.set(1 if saturated else 0)

    def processes(self, runner):
        """[(name, CPU now, peak this test)] of every process that sends load."""
        if isinstance(runner, MasterRunner):
            return [
                (f"worker {node.id[-8:]}", node.cpu_usage, max(node.cpu_usage, self.worker_peaks.get(node.id, 0.0)))
                for node in runner.clients.values()
            ]
        return [("this process", self.now, self.peak)]

    def warning(self, runner):
        """The sentence to show when a process reached saturation this test, else ""."""
        hot = [f"{name} peaked at {peak:.0f}%" for name, _, peak in self.processes(runner) if peak >= CPU_SATURATED_PERCENT]
        if not hot:
            return ""
        return (f"Load generator CPU-saturated ({', '.join(hot)} of a core): this test's figures measure the "
                f"load generator, not the server; {ADVICE}.")


WATCH = CpuWatch()


def watch_cpu(interval=CPU_SAMPLE_SECONDS):
    """Sample this process's CPU for as long as it runs (a greenlet)."""
    process = psutil.Process()
    process.cpu_percent()  # the first call only starts the measurement
    while True:
        gevent.sleep(interval)
        WATCH.sample(process.cpu_percent())
