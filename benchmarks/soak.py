"""Soak one architecture (issue 6): minutes of mixed load with connection churn.

Steady clients send PING, ECHO, WORK and SLEEP, one at a time or pipelined, and check
every reply; churn clients connect, send a request or two and leave (some with a RST).
At the end: errors (must be zero: the exit status says so), and the server's memory,
fds and threads from its /metrics, before, during and after the load.

    make soak ARCH=hybrid SOAK_SECONDS=300
or  PYTHONPATH=services:tests .venv/bin/python benchmarks/soak.py
Settings from the environment: ARCH (an architecture or a mode of
tests/integration/conftest.CONFIGS), PYTHON (the server build: 3.13 or 3.13t),
SOAK_SECONDS (180), SOAK_CLIENTS (8), SOAK_CHURN (2), SOAK_SEED.
"""

import os
import pathlib
import random
import socket
import struct
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "loadgen")]

from connlab_loadgen.resp import bulk, encode  # noqa: E402
from metrics_util import resources  # noqa: E402
from wire import expect  # noqa: E402

IO_TIMEOUT = 10  # a reply slower than this is an error
MIB = 1024 * 1024


def request(rng):
    """(request bytes, the exact reply) of a mixed load, in the bulk or inline form."""
    kind = rng.choices(["PING", "ECHO", "WORK", "SLEEP"], weights=[4, 4, 2, 1])[0]
    if kind == "PING":
        return rng.choice([b"PING\r\n", encode(b"PING")]), b"+PONG\r\n"
    if kind == "ECHO":
        payload = rng.randbytes(rng.choice([0, 8, 100, 1000, 4000]))
        return encode(b"ECHO", payload), bulk(payload)
    if kind == "WORK":  # microseconds of CPU
        return b"WORK %d\r\n" % rng.randrange(50, 1000), b"+OK\r\n"
    return encode(b"SLEEP", rng.randrange(1, 4)), b"+OK\r\n"  # milliseconds


class Soak:
    def __init__(self, server, *, seconds, clients, churn, seed):
        self.server, self.seconds, self.clients, self.churn = server, seconds, clients, churn
        self.seed = seed
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.requests = self.connections = 0
        self.errors = []

    def _count(self, requests, connections=0):
        with self.lock:
            self.requests += requests
            self.connections += connections

    def _error(self, what):
        with self.lock:
            self.errors.append(what)

    def _exchange(self, sock, batch):
        expect(sock, b"".join(req for req, _ in batch), b"".join(reply for _, reply in batch))
        self._count(len(batch))

    def steady(self, rng, index):
        """One connection for the whole run; on an error, report it and reconnect."""
        while not self.stop.is_set():
            try:
                with self.server.connect(timeout=IO_TIMEOUT) as sock:
                    self._count(0, 1)
                    while not self.stop.is_set():
                        size = 1 if rng.random() < 0.5 else rng.randrange(2, 32)  # pipelined or not
                        self._exchange(sock, [request(rng) for _ in range(size)])
            except (OSError, AssertionError) as exc:
                self._error(f"steady {index}: {exc!r}")
                self.stop.wait(0.5)

    def churning(self, rng, index):
        while not self.stop.is_set():
            try:
                sock = self.server.connect(timeout=IO_TIMEOUT)
                self._count(0, 1)
                try:
                    for _ in range(rng.randrange(1, 4)):
                        self._exchange(sock, [request(rng)])
                finally:
                    if rng.random() < 0.2:  # leave as a crashed client would
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    sock.close()
            except (OSError, AssertionError) as exc:
                self._error(f"churn {index}: {exc!r}")
                self.stop.wait(0.5)

    def run(self, on_tick):
        """Run the load for `seconds`; call on_tick(elapsed) about every 5 s meanwhile."""
        rng = random.Random(self.seed)
        threads = [threading.Thread(target=self.steady, args=(random.Random(rng.random()), i)) for i in range(self.clients)]
        threads += [threading.Thread(target=self.churning, args=(random.Random(rng.random()), i)) for i in range(self.churn)]
        start = time.monotonic()
        for thread in threads:
            thread.start()
        try:
            while (elapsed := time.monotonic() - start) < self.seconds:
                self.stop.wait(min(5, self.seconds - elapsed))
                on_tick(time.monotonic() - start)
        finally:
            self.stop.set()
            for thread in threads:
                thread.join(timeout=2 * IO_TIMEOUT)
        return time.monotonic() - start


def settle(server, baseline, timeout=30):
    """Idle counts after the load: poll until fds and threads are back to the baseline
    (connections close asynchronously) or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        now = resources(server)
        if (now["fds"] <= baseline["fds"] and now["threads"] <= baseline["threads"]) or time.monotonic() >= deadline:
            return now
        time.sleep(0.5)


def table(idle_before, warm, end, idle_after, peak):
    rows = [("resident memory (MiB)", "memory", MIB), ("open fds", "fds", 1), ("threads", "threads", 1)]
    lines = [f"{'':22} {'idle before':>12} {'warmed up':>10} {'end of load':>12} {'idle after':>11} {'peak':>8} {'growth':>8}"]
    for label, key, unit in rows:
        # Memory: end of load against warmed up (like for like, allocator warm-up excluded);
        # fds and threads: idle after against idle before.
        growth = (end[key] - warm[key]) if key == "memory" else (idle_after[key] - idle_before[key])
        values = [v[key] / unit for v in (idle_before, warm, end, idle_after, peak)] + [growth / unit]
        lines.append(f"{label:22} " + " ".join(f"{v:>{w}.1f}" for v, w in zip(values, (12, 10, 12, 11, 8, 8))))
    return "\n".join(lines)


def main():
    from conftest import CONFIGS, run_server

    name = os.environ.get("ARCH") or "single-thread"
    if name not in CONFIGS:
        sys.exit(f"soak: unknown ARCH {name!r}; one of: {', '.join(CONFIGS)}")
    arch, env = CONFIGS[name]
    seconds = float(os.environ.get("SOAK_SECONDS") or 180)
    clients = int(os.environ.get("SOAK_CLIENTS") or 8)
    churn = int(os.environ.get("SOAK_CHURN") or 2)
    seed = int(os.environ["SOAK_SEED"]) if os.environ.get("SOAK_SEED") else random.randrange(2**32)
    python = os.environ.get("PYTHON") or "3.13"
    print(f"soak: {name} on {python} for {seconds:.0f} s, {clients} steady + {churn} churning clients, seed {seed}",
          flush=True)  # fmt: skip

    # No Docker healthcheck: its connections would blur the fd and thread counts.
    with run_server(arch, python=python, docker={"healthcheck": {"test": ["NONE"]}}, **env) as server:
        idle_before = resources(server)
        soak = Soak(server, seconds=seconds, clients=clients, churn=churn, seed=seed)
        seen = {}

        def tick(elapsed):
            now = resources(server)
            seen.setdefault("warm", now)  # the first sample under load
            seen["end"] = now
            seen["peak"] = {k: max(v, seen.get("peak", now)[k]) for k, v in now.items()}
            print(f"  {elapsed:6.0f} s  {soak.requests:9d} requests  {soak.connections:7d} connections  "
                  f"{len(soak.errors)} errors  {now['memory'] / MIB:7.1f} MiB  {now['fds']:.0f} fds  {now['threads']:.0f} threads",
                  flush=True)

        elapsed = soak.run(tick)
        idle_after = settle(server, idle_before)

    print(f"\nsoak: {name}: {soak.requests} requests ({soak.requests / elapsed:.0f}/s), "
          f"{soak.connections} connections in {elapsed:.0f} s, {len(soak.errors)} errors (seed {seed})")
    print(table(idle_before, seen["warm"], seen["end"], idle_after, seen["peak"]))
    for error in soak.errors[:10]:
        print(f"  error: {error}")
    if soak.errors:
        sys.exit(f"soak: FAILED: {len(soak.errors)} errors")


if __name__ == "__main__":
    main()
