"""The many-core model (experiments/connlab_model): its engine against queueing theory,
its GIL against the measured two-CPU scaling, and its check against the kept table."""

import random
import statistics

import pytest
import simpy
from connlab import designs
from connlab_compare import theory
from connlab_model import inputs, wiring
from connlab_model.__main__ import GOAL, check, predict
from connlab_model.machine import Machine, Process


def waits(servers, rate, service, queues, count=20000, seed=7):
    """Mean wait of `count` Poisson arrivals at `rate` with exponential service of mean
    `service`, on `servers` free-threaded workers (as many cores): one shared queue
    (queues=1, M/M/c), or one queue per worker, arrivals split at random (c × M/M/1)."""
    env, rng = simpy.Environment(), random.Random(seed)
    process = Process(Machine(env, servers), gil=False)
    pools = [simpy.Resource(env, servers // queues) for _ in range(queues)]
    found = []

    def request(pool):
        arrived = env.now
        with pool.request() as worker:
            yield worker
            found.append(env.now - arrived)
            yield from process.compute(rng.expovariate(1 / service))

    def arrivals():
        for _ in range(count):
            yield env.timeout(rng.expovariate(rate))
            env.process(request(rng.choice(pools)))

    env.process(arrivals())
    env.run()
    return statistics.mean(found[count // 10:])


@pytest.mark.parametrize("servers, load", [(2, 0.8), (4, 0.7)])
def test_one_shared_queue_waits_as_erlang_c_says(servers, load):
    service = 0.001
    rate = load * servers / service
    expected, _ = theory.wait(servers, rate, service)
    assert waits(servers, rate, service, queues=1) == pytest.approx(expected, rel=0.15)


def test_a_queue_per_worker_waits_as_m_m_1_says():
    servers, service, load = 4, 0.001, 0.7
    per_queue = load / service  # each of the 4 queues gets a quarter of the arrivals
    expected = load / (1 / service - per_queue)  # M/M/1: ρ / (μ − λ)
    assert waits(servers, load * servers / service, service, queues=servers) == pytest.approx(expected, rel=0.15)


def test_the_gil_keeps_threads_to_one_core_and_free_threading_does_not():
    """The lab measured multi-acceptor's WORK on two CPUs against one: about 1.0× under
    the GIL, about 1.9× on 3.13t (docs/architectures.md)."""
    design, work = designs.of("multi-acceptor"), wiring.Load(work=200e-6)

    def scaling(gil):
        one, two = (wiring.simulate(design, cores, work, 20e-6, gil=gil, requests=2000).rps for cores in (1, 2))
        return two / one

    assert scaling(gil=True) == pytest.approx(1.0, abs=0.05)
    assert 1.8 <= scaling(gil=False) <= 2.05


def test_blocked_threads_overlap_under_the_gil():
    one, four = (wiring.simulate(designs.of("message-balancing"), cores, wiring.Load(sleep=0.005), 30e-6,
                                 requests=600).rps for cores in (1, 4))  # fmt: skip
    assert four / one == pytest.approx(4.0, rel=0.05)


def test_the_reuseport_hash_leaves_processes_idle_when_connections_are_few():
    """A process per core, each with its own listener: with one connection per process
    the hash leaves about a third of them without any (1 - (3/4)^4 of 4 get some), so
    they compute less than round robin's four cores; with many per process, no less."""
    design, work = designs.of("socket-sharding"), wiring.Load(work=1e-3)
    even = 4 / (1e-3 + 20e-6)  # four cores computing all the time

    def rps(connections):
        return wiring.simulate(design, 4, work, 20e-6, connections=connections, requests=1000, warmup=100).rps

    assert 0.5 <= rps(4) / even <= 0.85
    assert rps(64) / even == pytest.approx(1.0, rel=0.05)


def test_the_model_against_the_kept_16_cpu_table():
    """Inputs from the one-CPU cells; every other cell is a check. Processes scale, the
    GIL does not; where the model misses by more than the goal it predicts nothing."""
    data = inputs.read()
    overheads = inputs.overheads(data)
    assert {arch: round(s * 1e6) for arch, s in overheads.items()}["socket-sharding"] == 17  # 1 / 4613 rps − 200 µs
    checked = check(data, overheads)
    assert sum(r["input"] for r in checked) == len(data["rps"])  # one input cell per design
    within = [r for r in checked if not r["input"] and abs(r["error"]) <= GOAL]
    assert len(within) >= 0.9 * sum(not r["input"] for r in checked)
    predictions, missed = predict({**data, "rps": {a: data["rps"][a] for a in ("socket-sharding", "multi-acceptor")}},
                                  overheads, [r for r in checked if r["arch"] in ("socket-sharding", "multi-acceptor")])
    sharded = predictions["socket-sharding", "WORK 200us"]
    # A process per core; the table's 64 connections keep every one of 4 busy, but the hash
    # leaves (63/64)^64 of 64 processes without a connection: 64 × 0.63 cores compute.
    assert sharded[64] / sharded[4] == pytest.approx(16 * (1 - (63 / 64) ** 64), rel=0.1)
    assert ("multi-acceptor", "WORK 200us") in missed  # its GIL hand-offs cost what the model leaves out
    assert predictions["multi-acceptor", "SLEEP 5ms"][8] / predictions["multi-acceptor", "SLEEP 5ms"][4] == pytest.approx(2, rel=0.05)


def test_a_table_with_one_cpu_count_gives_no_prediction_and_says_why():
    data = inputs.read()
    data["rps"] = {"socket-sharding": {load: {1: cells[1]} for load, cells in data["rps"]["socket-sharding"].items()}}
    overheads = inputs.overheads(data)
    predictions, missed = predict(data, overheads, check(data, overheads))
    assert missed == {("socket-sharding", "WORK 200us"): None}  # nothing beyond its input to check it against
    assert list(predictions) == [("socket-sharding", "SLEEP 5ms")]  # its one-CPU cell is a check
