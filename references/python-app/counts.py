"""Per-worker counts of the Python reference servers, and the /metrics page showing them.

A worker (a process's event loop, a pool thread) writes its own counters: three int64
words in a file of its own under COUNTS (tmpfs), through a memory map, so counting a
request is one addition, with no lock and no system call, in whichever process the
server forked or spawned. `python counts.py` (started beside the server by
entrypoint.sh) serves every worker's counters at :METRICS_PORT/metrics in Prometheus
text under connlab's own metric names, so make compare's spread reading takes these
servers as it takes connlab's designs: connlab_workers{worker,role} (idle workers
included), connlab_worker_requests_total (executors), connlab_connections_active
(readers).
"""

import mmap
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DIRECTORY = Path(os.environ.get("COUNTS", "/dev/shm/connlab-counts"))
ROLE, REQUESTS, ACTIVE = range(3)  # a worker's words
READER, EXECUTOR = 1, 2  # holds connections, runs requests (connlab's tally roles)
ROLES = {READER: "reader", EXECUTOR: "executor", READER | EXECUTOR: "reader-executor"}


def slot(name, role):
    """New counters for the worker `name` (a file name), writable as words[REQUESTS] += 1."""
    with open(DIRECTORY / name, "w+b") as file:
        file.truncate(8 * 3)
        words = memoryview(mmap.mmap(file.fileno(), 8 * 3)).cast("q")
    words[ROLE] = role
    return words


_process = None


def process(role=READER | EXECUTOR):
    """The calling process's counters, made on first use (after the server forked or
    spawned it): an event loop's, which reads and executes, or gunicorn's acceptor's."""
    global _process
    if _process is None:
        _process = slot(f"p{os.getpid()}", role)
    return _process


_threads, _spare, _lock = {}, None, threading.Lock()


def declare_threads(count):
    """The process's pool: `count` thread slots, listed idle until a thread takes one."""
    global _spare
    with _lock:
        if _spare is None:
            _spare = [slot(f"p{os.getpid()}.t{i}", EXECUTOR) for i in reversed(range(count))]


def thread():
    """The calling thread's counters (by thread id: granian's threads are Rust's, with no
    lasting threading.local): the next declared slot, or one more past them."""
    words = _threads.get(threading.get_ident())
    if words is None:
        declare_threads(int(os.environ.get("THREADS", "1")))
        with _lock:
            words = _spare.pop() if _spare else slot(f"p{os.getpid()}.t{len(_threads)}", EXECUTOR)
            _threads[threading.get_ident()] = words
    return words


def exposition(arch):
    """Every worker's counters as Prometheus text."""
    workers, requests, active = [], [], []
    for path in sorted(DIRECTORY.iterdir()):
        raw = path.read_bytes()
        words = memoryview(raw).cast("q") if len(raw) == 8 * 3 else ()
        if not words or words[ROLE] not in ROLES:  # a worker making its counters this moment
            continue
        labels = f'arch="{arch}",worker="{path.name}"'
        workers.append(f'connlab_workers{{{labels},role="{ROLES[words[ROLE]]}"}} 1')
        if words[ROLE] & EXECUTOR:
            requests.append(f"connlab_worker_requests_total{{{labels}}} {words[REQUESTS]}")
        if words[ROLE] & READER:
            active.append(f"connlab_connections_active{{{labels}}} {words[ACTIVE]}")
    return "\n".join([
        "# HELP connlab_workers Workers by role (reader, executor, reader-executor), idle ones included.",
        "# TYPE connlab_workers gauge", *workers,
        "# HELP connlab_worker_requests Requests served, by worker.",
        "# TYPE connlab_worker_requests counter", *requests,
        "# HELP connlab_connections_active Connections open, by worker.",
        "# TYPE connlab_connections_active gauge", *active, "",
    ])  # fmt: skip


def serve(arch, port):
    class Metrics(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/metrics":
                self.send_error(404, "only /metrics here")
                return
            body = exposition(arch).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # no line per scrape
            pass

    ThreadingHTTPServer(("0.0.0.0", port), Metrics).serve_forever()


if __name__ == "__main__":
    serve(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SERVER", "python"), int(os.environ.get("METRICS_PORT", "9000")))
