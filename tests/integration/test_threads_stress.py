"""Many threads, no GIL: the designs with shared state, served by many threads on every
CPU, under many pipelining clients. Every reply must come whole and in order, and every
count in /metrics must add up exactly: a race the GIL used to hide (a hand-off queue, a
wake-up flag, a counter written by two threads) shows as a lost or crossed reply, or a
count that is off. On the 3.13t build the threads run truly in parallel.
"""

import os
import random
import threading

import pytest

from conftest import BUILDS_AND_CONFIGS, CONFIGS, run_server, wait_until
from connlab import designs
from connlab.config import cpu_list
from connlab_loadgen.resp import bulk
from metrics_util import scrape, total
from wire import read_exactly

pytestmark = pytest.mark.integration
CLIENTS, ROUNDS, DEPTH = 24, 20, 40  # each client: ROUNDS pipelines of DEPTH requests
# Many threads where the design has them, on every CPU, so that threads really overlap.
THREADS = {"single-acceptor": 16, "multi-acceptor": 16, "message-balancing": 16, "hybrid": 8}
CPUS = cpu_list(os.sched_getaffinity(0))


def requests_and_replies(client, round_):
    """One pipeline: unique ECHOs between PINGs and short WORKs, and what must come back."""
    rng = random.Random(client * 1000 + round_)
    sent, expected = [], []
    for n in range(DEPTH):
        kind = rng.choice(("ECHO", "ECHO", "PING", "WORK"))
        if kind == "ECHO":
            payload = b"c%d-r%d-n%d" % (client, round_, n)
            sent.append(b"ECHO %s\r\n" % payload)
            expected.append(bulk(payload))
        elif kind == "PING":
            sent.append(b"PING\r\n")
            expected.append(b"+PONG\r\n")
        else:
            sent.append(b"WORK 20\r\n")
            expected.append(b"+OK\r\n")
    return b"".join(sent), b"".join(expected)


# The designs whose threads share state (single-thread and socket-sharding have one
# thread per process).
THREADED = [param for param in BUILDS_AND_CONFIGS if CONFIGS[param.values[0][1]][0] in THREADS]


@pytest.mark.parametrize("build_and_config", THREADED)
def test_many_threads_lose_and_cross_nothing(docker_client, build_and_config):
    python, name = build_and_config
    arch, env = CONFIGS[name]
    env = {**env, "WORKERS": max(int(env.get("WORKERS", 0)), THREADS[arch])}
    with run_server(arch, python=python, cpuset=CPUS, docker={"healthcheck": {"test": ["NONE"]}}, **env) as server:
        before = scrape(server)
        failures = []

        def client(index):
            try:
                with server.connect(timeout=60) as sock:
                    for round_ in range(ROUNDS):
                        request, reply = requests_and_replies(index, round_)
                        sock.sendall(request)
                        got = read_exactly(sock, len(reply))
                        if got != reply:
                            failures.append((index, round_, got[:80], reply[:80]))
                            return
            except OSError as exc:
                failures.append((index, repr(exc)))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(180)
        assert not failures, f"replies lost or crossed: {failures[:3]}"

        sent = CLIENTS * ROUNDS * DEPTH
        wait_until(lambda: total(scrape(server), "connlab_connections_active") == 0, 20, "the connections to close")
        after = scrape(server)
        delta = lambda name, **labels: total(after, name, **labels) - total(before, name, **labels)  # noqa: E731
        assert delta("connlab_requests_total") == sent
        assert delta("connlab_request_duration_seconds_count") == sent
        assert delta("connlab_worker_requests_total") == sent
        assert delta("connlab_connections_accepted_total") == CLIENTS
        assert total(after, "connlab_queue_depth") == 0
        if designs.of(arch, env).pooled:
            assert delta("connlab_queue_wait_seconds_count") == sent
        if env.get("WORKER_MODEL") == "per-connection":
            assert delta("connlab_connection_threads_started_total") == CLIENTS
