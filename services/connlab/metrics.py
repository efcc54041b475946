"""Prometheus metrics: the same names for every architecture, told apart by `arch`.

Values live in prometheus_client's multiprocess files when PROMETHEUS_MULTIPROC_DIR is
set (always, in the image), so that one /metrics can sum the processes of
socket-sharding and hybrid. The process that serves /metrics also reports what only it
can see: its listening sockets' accept queues and the OS view of every server process.
"""

import os
import platform
import socket
import struct

import psutil
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client import disable_created_metrics, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

disable_created_metrics()  # the _created series only clutter the comparison

# Sub-millisecond resolution: a loopback round trip is tens of microseconds.
LATENCY_BUCKETS = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


class Metrics:
    """The server's instruments, with children bound per label value for speed."""

    def __init__(self, arch, registry=None):
        self.arch = arch
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self._requests = Counter(
            "connlab_requests", "Requests served, by command.", ["arch", "command"], registry=r
        )
        self._duration = Histogram(
            "connlab_request_duration_seconds",
            "Time from a request being read to its reply being ready, queue wait included.",
            ["arch", "command"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._worker_requests = Counter(
            "connlab_worker_requests", "Requests served, by worker.", ["arch", "worker"], registry=r
        )
        self._accepted = Counter(
            "connlab_connections_accepted", "Connections accepted, by worker.", ["arch", "worker"], registry=r
        )
        self._active = Gauge(
            "connlab_connections_active",
            "Connections open, by worker.",
            ["arch", "worker"],
            multiprocess_mode="livesum",
            registry=r,
        )
        self.protocol_errors = Counter(
            "connlab_protocol_errors", "Connections closed for malformed framing.", ["arch"], registry=r
        ).labels(arch)
        self.connections_rejected = Counter(
            "connlab_connections_rejected", "Connections turned away at MAX_CONNECTIONS.", ["arch"], registry=r
        ).labels(arch)
        self.threads_started = Counter(
            "connlab_connection_threads_started", "Threads started to serve one connection each.", ["arch"], registry=r
        ).labels(arch)
        self.queue_depth = Gauge(
            "connlab_queue_depth",
            "Requests parsed and waiting for a worker (message balancing).",
            ["arch"],
            multiprocess_mode="livesum",
            registry=r,
        ).labels(arch)
        self.queue_wait = Histogram(
            "connlab_queue_wait_seconds",
            "Time a parsed request waited for a worker (message balancing).",
            ["arch"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        ).labels(arch)
        self._by_command = {}
        self._by_worker = {}

    def request_done(self, command, worker, seconds):
        children = self._by_command.get(command)
        if children is None:
            children = self._requests.labels(self.arch, command), self._duration.labels(self.arch, command)
            self._by_command[command] = children
        children[0].inc()
        children[1].observe(seconds)
        worker_child = self._by_worker.get(worker)
        if worker_child is None:
            worker_child = self._by_worker[worker] = self._worker_requests.labels(self.arch, worker)
        worker_child.inc()

    def connection_opened(self, worker):
        self._accepted.labels(self.arch, worker).inc()
        self._active.labels(self.arch, worker).inc()

    def connection_closed(self, worker):
        self._active.labels(self.arch, worker).dec()


def listen_queue(sock):
    """(current, limit) of a listening socket's accept queue, from Linux TCP_INFO.

    For a listener the kernel reports the queue length in tcpi_unacked and the backlog
    it was given in tcpi_sacked (the fifth and sixth u32 after eight u8 fields).
    """
    raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 32)
    unacked, sacked = struct.unpack_from("II", raw, 24)
    return unacked, sacked


class ServerCollector:
    """Scrape-time view of the server: info, accept queues, and its processes' OS stats."""

    def __init__(self, settings, listeners):
        self.settings = settings
        self.listeners = listeners  # name -> listening socket, held by this process

    def collect(self):
        arch = self.settings.arch
        info = GaugeMetricFamily(
            "connlab_server_info", "Architecture and settings of the server.", labels=["python", *self.settings.describe()]
        )
        info.add_metric([platform.python_version(), *self.settings.describe().values()], 1)
        yield info

        length = GaugeMetricFamily("connlab_listen_queue_length", "Connections waiting in the accept queue.", labels=["arch", "listener"])
        limit = GaugeMetricFamily("connlab_listen_queue_limit", "Accept queue capacity (backlog).", labels=["arch", "listener"])
        for name, sock in self.listeners.items():
            current, capacity = listen_queue(sock)
            length.add_metric([arch, name], current)
            limit.add_metric([arch, name], capacity)
        yield length
        yield limit

        procs = _server_processes()
        threads = rss = fds = user = system = voluntary = involuntary = 0
        for proc in procs:
            try:
                with proc.oneshot():
                    threads += proc.num_threads()
                    fds += proc.num_fds()
                    rss += proc.memory_info().rss
                    cpu = proc.cpu_times()
                    ctx = proc.num_ctx_switches()
            except psutil.NoSuchProcess:
                continue
            user += cpu.user
            system += cpu.system
            voluntary += ctx.voluntary
            involuntary += ctx.involuntary
        yield _gauge("connlab_processes", "Server processes.", arch, len(procs))
        yield _gauge("connlab_threads", "Threads in all server processes.", arch, threads)
        yield _gauge("connlab_open_fds", "Open file descriptors of all server processes.", arch, fds)
        yield _gauge("connlab_resident_memory_bytes", "Resident memory of all server processes.", arch, rss)
        cpu_family = CounterMetricFamily("connlab_cpu_seconds", "CPU time of all server processes.", labels=["arch", "mode"])
        cpu_family.add_metric([arch, "user"], user)
        cpu_family.add_metric([arch, "system"], system)
        yield cpu_family
        switches = CounterMetricFamily("connlab_context_switches", "Context switches of all server processes.", labels=["arch", "kind"])
        switches.add_metric([arch, "voluntary"], voluntary)
        switches.add_metric([arch, "involuntary"], involuntary)
        yield switches


def _gauge(name, documentation, arch, value):
    family = GaugeMetricFamily(name, documentation, labels=["arch"])
    family.add_metric([arch], value)
    return family


def _server_processes():
    me = psutil.Process()
    return [me, *me.children(recursive=True)]


def serve_metrics(port, metrics, collector):
    """Start /metrics on its own thread; in multiprocess mode it sums every process."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = metrics.registry
    registry.register(collector)
    return start_http_server(port, registry=registry)


def reset_multiprocess_dir():
    """Wipe stale values left by an earlier run (a restarted container keeps /tmp)."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        return
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.remove(os.path.join(path, name))
