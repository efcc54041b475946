"""references/redis's `redis/io-threads`, for real: redis 8 with WORKERS=2 I/O threads
beside the main thread. The spread reading of its INFO (measure.info_threads) lists the
two I/O threads as readers and the main thread as the one executor, and their counts
add up: the clients each holds to the connections open, the reads each made to the
commands sent."""

import concurrent.futures
import socket

import pytest

from conftest import LOOPBACK
from connlab_compare import measure, targets
from connlab_loadgen.exposition import samples, total
from reference_lab import run_reference

pytestmark = pytest.mark.integration


def command(sock, *words):
    """One RESP command's whole reply (a bulk string's text, for INFO)."""
    sock.sendall(b"".join([f"*{len(words)}\r\n".encode()] + [f"${len(w)}\r\n{w}\r\n".encode() for w in words]))
    reply = sock.recv(65536)
    if reply.startswith(b"$"):  # $length, the text, CRLF
        length = int(reply[1 : reply.index(b"\r\n")])
        while len(reply) < reply.index(b"\r\n") + 2 + length + 2:
            reply += sock.recv(65536)
    return reply.decode()


def probe(port, target):
    """The reply to the record's probe, as the load generator asks it around a step."""
    with socket.create_connection((LOOPBACK, port), timeout=5) as sock:
        return command(sock, *target.probe.split())


def test_io_threads_are_counted_per_thread_from_info():
    with run_reference("redis/io-threads", WORKERS=2) as (target, ports):
        port = ports[target.port]
        assert target.per_worker and not target.metrics_port and targets.references()["redis"].per_worker is False
        before = probe(port, target)
        assert "used_memory_rss:" in before  # the resources reading still has its memory
        roles = {s.labels["worker"]: s.labels["role"] for s in samples(measure.info_threads(before))["connlab_workers"]}
        assert roles == {"io_thread_1": "reader", "io_thread_2": "reader", "main": "executor"}

        users, each = 6, 50
        socks = [socket.create_connection((LOOPBACK, port), timeout=5) for _ in range(users)]
        try:
            def user(sock):
                return sum(command(sock, "PING") == "+PONG\r\n" for _ in range(each))

            with concurrent.futures.ThreadPoolExecutor(users) as pool:
                assert sum(pool.map(user, socks)) == users * each
            after = probe(port, target)  # the users still connected
        finally:
            for sock in socks:
                sock.close()
        found, old = samples(measure.info_threads(after)), samples(measure.info_threads(before))
        # The probe's own connection is open (on an I/O thread) while INFO is answered.
        assert total(found, "connlab_connections_active") == users + 1
        # A read is a read event: each un-pipelined PING, the second probe's INFO and the
        # first probe's close (EOF). The main thread executed the PINGs and the first
        # probe's INFO (a command is counted once it has run).
        reads = {w: total(found, "connlab_worker_requests_total", worker=w) - total(old, "connlab_worker_requests_total", worker=w)
                 for w in ("io_thread_1", "io_thread_2", "main")}  # fmt: skip
        assert reads["io_thread_1"] + reads["io_thread_2"] == users * each + 2 and reads["main"] == users * each + 1, reads
        figures = measure.spread(before, after, from_metrics=False)
        assert sum(figures["per_worker_connections"].values()) == users + 1
        assert max(figures["per_worker_connections"].values()) - min(figures["per_worker_connections"].values()) <= 1  # fewest clients first
        assert figures["cv_requests"] is None  # one executor: no spread of requests to read
