"""The per-worker counts of the reference servers as the spread reading takes them,
without containers: the Python servers' counters (references/python-app/counts.py)
rendered as /metrics, and redis's INFO threads section (measure.info_threads)."""

import importlib.util
import os
import threading

import pytest

from connlab_compare import measure, targets


@pytest.fixture
def counts(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("counts", targets.DIRECTORY / "python-app/counts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "DIRECTORY", tmp_path)
    return module


def test_a_process_and_its_pool_read_as_a_designs_workers(counts):
    before = counts.exposition("gunicorn")
    process = counts.process(counts.READER)
    counts.declare_threads(3)  # listed at once, idle ones included
    process[counts.ACTIVE] = 2
    for _ in range(5):
        counts.thread()[counts.REQUESTS] += 1
    other = threading.Thread(target=lambda: counts.thread().__setitem__(counts.REQUESTS, 1))
    other.start()
    other.join()
    figures = measure.spread(before, counts.exposition("gunicorn"))
    pid = f"p{os.getpid()}"
    assert figures["per_worker_requests"] == {f"{pid}.t0": 5, f"{pid}.t1": 1, f"{pid}.t2": 0}
    assert figures["cv_connections"] is None  # one reader: no spread to read
    assert f'connlab_connections_active{{arch="gunicorn",worker="{pid}"}} 2' in counts.exposition("gunicorn")


INFO = """$400\r
# Memory\r
used_memory_rss:9437184\r
# Threads\r
io_thread_0:clients=0,reads=0,writes=0\r
io_thread_1:clients=3,reads={r1},writes=20\r
io_thread_2:clients=1,reads=10,writes=10\r
# Stats\r
total_commands_processed:{executed}\r
"""


def test_redis_io_threads_are_readers_and_the_main_thread_the_executor():
    before, after = INFO.format(r1=20, executed=30), INFO.format(r1=50, executed=70)
    figures = measure.spread(before, after, from_metrics=False)
    assert figures["per_worker_connections"] == {"io_thread_1": 3, "io_thread_2": 1}
    assert figures["max_min_connections"] == 3 and figures["cv_requests"] is None  # one executor
    assert measure.server_resources(after, from_metrics=False)["memory"] == 9437184


def test_redis_without_io_threads_is_one_reader_executor():
    text = "# Threads\r\nio_thread_0:clients=5,reads=9,writes=9\r\n"
    assert 'connlab_workers{worker="io_thread_0",role="reader-executor"} 1' in measure.info_threads(text)
    with pytest.raises(ValueError, match="redis 8"):
        measure.info_threads("# Memory\r\nused_memory_rss:1\r\n")
