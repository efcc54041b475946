"""make bench-loadgen: how fast is one Locust process (our RESP user) on one CPU, next to
redis-benchmark on that same CPU? Against redis-server (the fastest server there is)
and against connlab's single-thread server (what the load generator must outrun to
measure connlab), each alone on the server CPUs. Everything in containers on one
Docker network. A benchmark, not a test: it prints figures and ratios, asserts nothing.

    BENCH_CPU=0 SERVER_CPUS=1 BENCH_CLIENTS=50 BENCH_SECONDS=15 BENCH_REQUESTS=300000 python benchmarks/bench_loadgen.py
"""

import csv
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "services"), str(ROOT / "experiments")]
from connlab_compare import containers, targets  # noqa: E402
from connlab_compare.clients import RedisBenchmark  # noqa: E402

BENCH_CPU = os.environ.get("BENCH_CPU", "0")
SERVER_CPUS = os.environ.get("SERVER_CPUS", "1")
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "50"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "15"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "300000"))
SERVERS = ("redis", "single-thread")  # the reference, and the design the load generator must outrun


def say(text):
    print(f"connlab: {text}", file=sys.stderr, flush=True)


def redis_benchmark(network, host, port, pipeline):
    """Requests/s of PING as a RESP array (what our user sends)."""
    requests = REQUESTS * pipeline // (4 if pipeline > 1 else 1)
    command = RedisBenchmark.command(host, port, tests="ping_mbulk", clients=CLIENTS, requests=requests, pipeline=pipeline)
    _, output = containers.run_to_end(targets.image(RedisBenchmark.image), command, network=network, cpus=BENCH_CPU)
    return RedisBenchmark.parse(output)["rps"]


def locust_rate(network, host, port, pipeline, out):
    """Requests/s of one Locust process (the worker code path)."""
    name = f"{host}-p{pipeline}"
    command = ["--headless", "-u", str(CLIENTS), "-r", str(CLIENTS), "-t", f"{SECONDS}s", "--host", f"tcp://{host}:{port}",
               "--pipeline", str(pipeline), "--csv", f"/out/{name}", "--only-summary"]  # fmt: skip
    _, log = containers.run_to_end(targets.image("loadgen"), command, network=network, cpus=BENCH_CPU,
                                   env={"LOADGEN_METRICS_PORT": "0"}, volumes={out: ("/out", "rw")}, timeout=SECONDS + 120)  # fmt: skip
    if "connect: " in log:
        say(f"warning: the Locust run against {host}:{port} had connection failures (see its summary)")
    with open(Path(out) / f"{name}_stats.csv") as file:
        rows = {row["Name"]: row for row in csv.DictReader(file)}
    return float(rows["Aggregated"]["Requests/s"])


def main():
    run = f"connlab-bench-{os.getpid()}"
    servers = {name: targets.get(name) for name in SERVERS}
    containers.network(run)
    try:
        with tempfile.TemporaryDirectory() as out:
            os.chmod(out, 0o777)  # the load generator writes its CSV as its own user
            for name, target in servers.items():
                image, env = target.run_spec("3.13")
                containers.run(image, name=f"{run}-{name}", network=run, cpus=SERVER_CPUS, env=env)
                containers.wait_ready(f"{run}-{name}", target.ready, 30, name)
            say(f"servers on CPUs {SERVER_CPUS}; clients on CPU {BENCH_CPU}; {CLIENTS} connections each")
            rates = {}
            for name, pipeline in (("redis", 1), ("redis", 16), ("single-thread", 1)):
                host, port = f"{run}-{name}", servers[name].port
                for client, measure in (("redis-benchmark", redis_benchmark), ("Locust", locust_rate)):
                    args = (out,) if measure is locust_rate else ()
                    rates[name, client, pipeline] = measure(run, host, port, pipeline, *args)
                    say(f"{name:<14} {client:<15} P{pipeline}: {rates[name, client, pipeline]:.0f} req/s")
    finally:
        for container in containers.named(run):
            containers.remove(container)
        containers.remove_network(run)
    report(rates)


def report(rates):
    rb1, lc1 = rates["redis", "redis-benchmark", 1], rates["redis", "Locust", 1]
    rb16, lc16 = rates["redis", "redis-benchmark", 16], rates["redis", "Locust", 16]
    cb1, cl1 = rates["single-thread", "redis-benchmark", 1], rates["single-thread", "Locust", 1]
    print("bench-loadgen (one run; the machine is shared, so read ratios, not absolutes)")
    print(f"  against redis-server:           redis-benchmark P1 {rb1:>9.0f}  P16 {rb16:>9.0f} req/s")
    print(f"                                  Locust worker   P1 {lc1:>9.0f}  P16 {lc16:>9.0f} req/s")
    print(f"  against connlab single-thread:  redis-benchmark P1 {cb1:>9.0f}, Locust worker P1 {cl1:>9.0f} req/s")
    print(f"  Locust P1 / redis-benchmark P1, redis-server          = {lc1 / rb1:.2f}  (target >= 0.6, aim 0.8)")
    print(f"  Locust P1 / redis-benchmark P1, connlab single-thread = {cl1 / cb1:.2f}  (target >= 0.9)")
    print(f"  Locust P16 / Locust P1, redis-server                  = {lc16 / lc1:.2f}  (target >= 3)")


if __name__ == "__main__":
    main()
