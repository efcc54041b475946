"""bench-scaling's closed-loop client: requests/s and p99 from what it timed, against a
server whose every reply is delayed by a known time."""

import contextlib
import os
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import scaling  # noqa: E402

DELAY = 0.004  # seconds before each reply


def delaying_server():
    """A port where each connection's every request line is answered +OK after DELAY."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve(sock):
        with sock, sock.makefile("rb") as lines, contextlib.suppress(OSError):  # the client leaves as it ends
            for _ in lines:
                time.sleep(DELAY)
                sock.sendall(b"+OK\r\n")

    def accept():
        while True:
            sock, _ = listener.accept()
            threading.Thread(target=serve, args=(sock,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return listener.getsockname()[1]


def test_the_client_counts_replies_and_times_each_one():
    port = delaying_server()
    cpu = min(os.sched_getaffinity(0))
    rps, p99_ms = scaling.measure(port, b"PING\r\n", 1.0, [cpu], 2)
    # Two connections, one request in flight each, DELAY per reply: at most 2 / DELAY a second.
    assert 0.5 * 2 / DELAY <= rps <= 2 / DELAY
    assert DELAY * 1000 <= p99_ms < 20 * DELAY * 1000


class Unread:
    """A server whose threads and CPU are not read (the client is what is tested)."""

    def threads(self):
        return {}

    def cpu(self):
        return 0.0


@pytest.fixture
def untracked(monkeypatch):
    """No connection tracking to wait for (this machine's table is not what is tested)."""
    monkeypatch.setattr(scaling, "conntrack", lambda: None)


def test_new_connections_are_counted_and_timed_so_many_at_a_time(untracked):
    port = delaying_server()
    cpu = min(os.sched_getaffinity(0))
    found = scaling.measure_fresh(Unread(), port, 1.0, [cpu], slots=2, most=2 / DELAY)
    # Two at a time, each answered DELAY after its PING: at most 2 / DELAY a second.
    assert 0.4 * 2 / DELAY <= found["rps"] <= 2 / DELAY and found["errors"] == 0
    assert DELAY * 1000 <= found["p99_ms"] <= found["max_ms"] < 20 * DELAY * 1000


def test_new_connections_at_a_rate_beside_a_blocking_one_are_timed_from_when_each_was_due(untracked):
    port = delaying_server()
    cpu = min(os.sched_getaffinity(0))
    found = scaling.measure_fresh(Unread(), port, 2.0, [cpu], rate=50, blocking=b"SLEEP 1\r\n")
    assert 30 <= found["rps"] <= 70 and found["errors"] == 0  # 50 a second, at random
    assert DELAY * 1000 <= found["p99_ms"] < 20 * DELAY * 1000


def test_the_processes_of_a_server_are_found_below_it():
    assert os.getpid() in scaling.descendants(os.getppid())
    assert scaling.cpu_seconds(Path("/proc/self/stat").read_text()) > 0


def test_a_full_connection_tracking_table_is_waited_out_and_said(monkeypatch):
    tables = iter([(95, 100), (95, 100), (50, 100), (0, 100)])  # full, full, then room as entries expire
    monkeypatch.setattr(scaling, "conntrack", lambda: next(tables))
    monkeypatch.setattr(scaling.time, "sleep", lambda seconds: None)
    scaling.wait_for_room(20)  # 50 + 20 fits in 90 % of 100
    assert next(tables) == (0, 100)  # it read the table three times, until there was room
    monkeypatch.setattr(scaling, "conntrack", lambda: (40, 100))
    scaling.wait_for_room(10**6)  # more than the table holds: room for half of it will do
    monkeypatch.setattr(scaling, "conntrack", lambda: (99, 100))
    with pytest.raises(RuntimeError, match="holds 99 of 100"):
        scaling.wait_for_room(20, patience=0)
