"""Prometheus metrics: the same names for every architecture, told apart by `arch`.

Requests, latencies and connections are counted in per-thread tallies (tally.py), off
the hot path, and summed here when /metrics is scraped (RequestCollector), for the
threads of one process and the processes of socket-sharding and hybrid alike. The
process that serves /metrics also reports what only it can see: its listening sockets'
accept queues and the OS view of every server process (ServerCollector).
"""

import socket
import struct
from collections import defaultdict

import psutil
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

from . import interpreter, tally
from .tally import LATENCY_BUCKETS

_LE = [floatToGoString(bound) for bound in LATENCY_BUCKETS] + ["+Inf"]


class Metrics:
    """Hands each serving thread its tally on the server's board."""

    def __init__(self, arch, board, request_metrics=True):
        self.arch = arch
        self.board = board
        self.request_metrics = request_metrics

    def tally(self, name, role=tally.READS | tally.EXECUTES):
        """The calling thread's tally, labelled `name`; `role`: what the thread does
        (tally.READS, tally.EXECUTES, both, or 0 for a helper such as the acceptor)."""
        taken = self.board.take(name, role)
        taken.recording = self.request_metrics
        return taken

    def borrowed(self, name):
        """A tally for the life of a thread that serves one connection."""
        return self.board.borrowed(name, self.request_metrics)


class RequestCollector:
    """Scrape-time sums of every tally on the board, under the metric names and labels
    the dashboards query."""

    def __init__(self, arch, board):
        self.arch = arch
        self.board = board

    def collect(self):
        arch, commands = self.arch, self.board.commands
        slots = [slot.tolist() for slot in self.board.slots()]
        at = {command: tally.COMMANDS_AT + i * tally.HISTOGRAM_WORDS for i, command in enumerate(commands)}

        requests = CounterMetricFamily("connlab_requests", "Requests served, by command.", labels=["arch", "command"])
        duration = HistogramMetricFamily(
            "connlab_request_duration_seconds",
            "Time from a request being read to its reply being ready to send, queue wait included.",
            labels=["arch", "command"],
        )
        for command in commands:
            buckets, seconds = tally.histogram(slots, at[command])
            if buckets[-1]:
                requests.add_metric([arch, command], buckets[-1])
                duration.add_metric([arch, command], list(zip(_LE, buckets)), seconds)
        yield requests
        yield duration

        # A worker has series once it has served a request or accepted a connection
        # (as prometheus_client's labelled children did): an I/O thread that only
        # reads has no request series, a pool worker that only executes no connections.
        served, accepted, active, roles = defaultdict(int), defaultdict(int), defaultdict(int), defaultdict(int)
        for words in slots:
            if not words[tally.ROLE]:
                continue
            name = tally.name_of(words)
            roles[name, tally.ROLES[words[tally.ROLE]]] += 1
            requests_served = sum(tally.count(words, at[command]) for command in commands)
            if requests_served:
                served[name] += requests_served
            if words[tally.ACCEPTED]:
                accepted[name] += words[tally.ACCEPTED]
                active[name] += words[tally.ACCEPTED] - words[tally.CLOSED]
        yield _by_worker(CounterMetricFamily, "connlab_worker_requests", "Requests served, by worker.", arch, served)
        yield _by_worker(CounterMetricFamily, "connlab_connections_accepted", "Connections accepted, by worker.", arch, accepted)
        yield _by_worker(GaugeMetricFamily, "connlab_connections_active", "Connections open, by worker.", arch, active)
        workers = GaugeMetricFamily(
            "connlab_workers",
            "Threads by worker label and role (reader, executor, reader-executor), idle ones included.",
            labels=["arch", "worker", "role"],
        )
        for (name, role), count in sorted(roles.items()):
            workers.add_metric([arch, name, role], count)
        yield workers

        summed = lambda field: sum(words[field] for words in slots)  # noqa: E731
        yield _one(CounterMetricFamily, "connlab_protocol_errors", "Connections closed for malformed framing.", arch, summed(tally.PROTOCOL_ERRORS))
        yield _one(CounterMetricFamily, "connlab_connections_rejected", "Connections turned away at MAX_CONNECTIONS.", arch, summed(tally.REJECTED))
        yield _one(CounterMetricFamily, "connlab_connection_threads_started", "Threads started to serve one connection each.", arch, summed(tally.THREADS_STARTED))
        waits, wait_seconds = tally.histogram(slots, tally.QUEUE_WAIT)
        depth = max(0, summed(tally.QUEUED) - waits[-1])
        yield _one(GaugeMetricFamily, "connlab_queue_depth", "Requests parsed and waiting for a worker (message balancing).", arch, depth)
        wait = HistogramMetricFamily(
            "connlab_queue_wait_seconds", "Time a parsed request waited for a worker (message balancing).", labels=["arch"]
        )
        wait.add_metric([arch], list(zip(_LE, waits)), wait_seconds)
        yield wait


def _by_worker(family_type, name, documentation, arch, values):
    family = family_type(name, documentation, labels=["arch", "worker"])
    for worker, value in sorted(values.items()):
        family.add_metric([arch, worker], value)
    return family


def _one(family_type, name, documentation, arch, value):
    family = family_type(name, documentation, labels=["arch"])
    family.add_metric([arch], value)
    return family


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

    def __init__(self, settings, listeners, loops=()):
        self.settings = settings
        self.listeners = listeners  # name -> listening socket, held by this process
        self.loops = loops  # this process's event loops (a single-process server's)

    def collect(self):
        arch = self.settings.arch
        info = GaugeMetricFamily(
            "connlab_server_info", "Architecture and settings of the server.", labels=["python", "gil", *self.settings.describe()]
        )
        info.add_metric([interpreter.version(), interpreter.gil(), *self.settings.describe().values()], 1)
        yield info

        length = GaugeMetricFamily("connlab_listen_queue_length", "Connections waiting in the accept queue.", labels=["arch", "listener"])
        limit = GaugeMetricFamily("connlab_listen_queue_limit", "Accept queue capacity (backlog).", labels=["arch", "listener"])
        for name, sock in self.listeners.items():
            current, capacity = listen_queue(sock)
            length.add_metric([arch, name], current)
            limit.add_metric([arch, name], capacity)
        yield length
        yield limit

        if self.loops:  # what a dispatch policy reads (dispatcher.py)
            load = GaugeMetricFamily("connlab_worker_load", "An event loop's connections, open or handed to it, "
                                     "plus one while it executes a request.", labels=["arch", "worker"])  # fmt: skip
            for loop in list(self.loops):
                load.add_metric([arch, loop.name], loop.load)
            yield load

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
        yield _one(GaugeMetricFamily, "connlab_processes", "Server processes.", arch, len(procs))
        yield _one(GaugeMetricFamily, "connlab_threads", "Threads in all server processes.", arch, threads)
        yield _one(GaugeMetricFamily, "connlab_open_fds", "Open file descriptors of all server processes.", arch, fds)
        yield _one(GaugeMetricFamily, "connlab_resident_memory_bytes", "Resident memory of all server processes.", arch, rss)
        cpu_family = CounterMetricFamily("connlab_cpu_seconds", "CPU time of all server processes.", labels=["arch", "mode"])
        cpu_family.add_metric([arch, "user"], user)
        cpu_family.add_metric([arch, "system"], system)
        yield cpu_family
        switches = CounterMetricFamily("connlab_context_switches", "Context switches of all server processes.", labels=["arch", "kind"])
        switches.add_metric([arch, "voluntary"], voluntary)
        switches.add_metric([arch, "involuntary"], involuntary)
        yield switches


def _server_processes():
    me = psutil.Process()
    return [me, *me.children(recursive=True)]


def serve_metrics(port, *collectors):
    """Start /metrics on its own thread."""
    registry = CollectorRegistry()
    for collector in collectors:
        registry.register(collector)
    return start_http_server(port, registry=registry)
