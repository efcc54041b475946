"""make bench-server: every architecture and mode next to two anchors, on one server CPU.

Each server runs alone in its container, pinned to one CPU; redis-benchmark
(`ping_mbulk`, 50 connections) runs in a container pinned to another CPU, on the same
Docker network (the published-port proxy would cost more than the servers). Anchors,
measured in the same run: redis-server (C) and a bare asyncio PING server (the Python
floor: no parsing, no accounting). Every connlab variant runs twice, with request
accounting on and with REQUEST_METRICS=0 (a setting for this benchmark only).
First it times each stage of a request in the server's own code (hot_path.py). A
benchmark, not a test: it prints figures and ratios and asserts nothing.

    python benchmarks/bench_server.py [--variants single-thread,hybrid] [--repeat 3]
"""

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "services"))
from connlab.config import variants  # noqa: E402

TAG = os.environ.get("CONNLAB_TAG", "latest")
# The server build (PYTHON=3.13t: the free-threaded image); redis-server for the anchor.
SERVER_IMAGE = f"connlab/server:{TAG}" + ("-3.13t" if os.environ.get("PYTHON") == "3.13t" else "")
REDIS_IMAGE = f"connlab/redis:{TAG}"
ASYNCIO_PING = "/bench/asyncio_ping.py"


def docker(*args, check=True, timeout=120):
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        sys.exit(f"bench-server: docker {' '.join(args[:3])} failed: {result.stderr.strip()}")
    return result.stdout


class Target:
    """One server to measure: how to start it and how to ask it whether it is ready."""

    def __init__(self, name, run_args, ready, port=7000):
        self.name, self.run_args, self.ready, self.port = name, run_args, ready, port


def anchors():
    yield Target("redis-server (C)", [REDIS_IMAGE], ["redis-cli", "ping"], port=6379)
    yield Target(
        "asyncio PING (floor)",
        ["-v", f"{ROOT / 'benchmarks/asyncio_ping.py'}:{ASYNCIO_PING}:ro", SERVER_IMAGE, "python", ASYNCIO_PING],
        ["python", "-m", "connlab.healthcheck"],
    )


def with_and_without_accounting(name, against=None):
    """`name` as built, with accounting and without; and as in the image `against`."""
    arch, settings = variants()[name]
    runs = [(name, SERVER_IMAGE, "1"), (f"{name} (no accounting)", SERVER_IMAGE, "0")]
    if against:
        runs.append((f"{name} ({against})", against, "1"))
    for label, image, metrics in runs:
        env = {"ARCH": arch, **settings, "REQUEST_METRICS": metrics}
        yield Target(label, [*(f"-e{k}={v}" for k, v in env.items()), image], ["python", "-m", "connlab.healthcheck"])


def start(target, network, cpu, container):
    docker("run", "-d", "--name", container, "--network", network, "--cpuset-cpus", cpu, *target.run_args)
    for _ in range(300):
        if subprocess.run(["docker", "exec", container, *target.ready], capture_output=True).returncode == 0:
            return
        subprocess.run(["sleep", "0.1"])
    logs = docker("logs", "--tail", "20", container, check=False)
    sys.exit(f"bench-server: {target.name} did not become ready:\n{logs}")


def redis_benchmark(network, cpu, host, port, pipeline, requests, clients):
    """Requests/s of `ping_mbulk` (PING as a RESP array, what clients send)."""
    name = f"{host}-client"
    try:
        out = docker(
            "run", "--rm", "--name", name, "--network", network, "--cpuset-cpus", cpu, REDIS_IMAGE,
            "redis-benchmark", "-h", host, "-p", str(port), "-t", "ping_mbulk",
            "-n", str(requests), "-c", str(clients), "-P", str(pipeline), "--csv",
            timeout=300,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        docker("rm", "-f", name, check=False)
        sys.exit(f"bench-server: redis-benchmark against {host} took over 300 s; is the server answering?")
    for line in out.splitlines():
        if line.startswith('"PING_MBULK"'):
            return float(line.split('","')[1])
    sys.exit(f"bench-server: no result from redis-benchmark against {host}:\n{out}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default=",".join(variants()), help="comma-separated, from: " + ", ".join(variants()))
    parser.add_argument("--server-cpu", default=os.environ.get("SERVER_CPU", "1"))
    parser.add_argument("--client-cpu", default=os.environ.get("CLIENT_CPU", "0"))
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=100_000, help="per P1 run; P16 runs send 10x as many")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the median is shown")
    parser.add_argument("--against", help="another server image (e.g. one built from an earlier commit) to run beside each variant")
    args = parser.parse_args()
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in variants()]
    if unknown:
        sys.exit(f"bench-server: unknown variant(s) {', '.join(unknown)}; choose from: {', '.join(variants())}")

    print("Where a request's time goes, stage by stage (benchmarks/hot_path.py in the server image):")
    print(docker("run", "--rm", "--cpuset-cpus", args.server_cpu, "-e", "PYTHONPATH=/app", "-v",
                 f"{ROOT / 'benchmarks/hot_path.py'}:/bench/hot_path.py:ro", SERVER_IMAGE, "python", "/bench/hot_path.py",
                 timeout=300), flush=True)
    network = f"connlab-bench-server-{os.getpid()}"
    docker("network", "create", network)
    print(f"{SERVER_IMAGE} on CPU {args.server_cpu}, redis-benchmark on CPU {args.client_cpu}, {args.clients} connections, "
          f"median of {args.repeat}; P1 {args.requests} requests, P16 {10 * args.requests}", file=sys.stderr)
    runs = {}  # target name -> {pipeline: [req/s of each repeat]}
    try:
        # Servers compared with each other run side by side (idle but one) and take turns,
        # so that a slow spell of the shared machine hits both alike.
        groups = [[t] for t in anchors()] + [list(with_and_without_accounting(n, args.against)) for n in names]
        for group in groups:
            containers = [f"{network}-{len(runs) + i}" for i in range(len(group))]
            try:
                for target, container in zip(group, containers):
                    start(target, network, args.server_cpu, container)
                    runs[target.name] = {1: [], 16: []}
                bench = lambda target, container, p: redis_benchmark(  # noqa: E731
                    network, args.client_cpu, container, target.port, p, args.requests * (10 if p > 1 else 1), args.clients)
                for target, container in zip(group, containers):
                    bench(target, container, 1)  # warm-up
                for _ in range(args.repeat):
                    for pipeline in (1, 16):
                        for target, container in zip(group, containers):
                            runs[target.name][pipeline].append(bench(target, container, pipeline))
                for target in group:
                    print(f"  {target.name:<42} P1 {runs[target.name][1]}  P16 {runs[target.name][16]}", file=sys.stderr, flush=True)
            finally:
                for container in containers:
                    docker("rm", "-f", container, check=False)
    finally:
        docker("network", "rm", network, check=False)
    report(runs, names, args.against)


def report(runs, names, against):
    rate = {name: [statistics.median(by_pipeline[p]) for p in (1, 16)] for name, by_pipeline in runs.items()}
    redis, floor = rate["redis-server (C)"], rate["asyncio PING (floor)"]
    print("bench-server: requests/s (median of the repeats), ratios from this one run")
    print(f"{'server':<32} {'P1':>8} {'P16':>9} {'P1/asyncio':>10} {'P1/redis':>8} {'P16/redis':>9} {'acct P1':>16} {'acct P16':>16}")
    for name, (p1, p16) in (("redis-server (C)", redis), ("asyncio PING (floor)", floor)):
        print(f"{name:<32} {p1:>8.0f} {p16:>9.0f} {p1 / floor[0]:>10.2f} {p1 / redis[0]:>8.2f} {p16 / redis[1]:>9.2f}")
    for name in names:
        (p1, p16), without = rate[name], runs[f"{name} (no accounting)"]
        costs = [accounting_cost(runs[name][p], without[p]) for p in (1, 16)]
        print(f"{name:<32} {p1:>8.0f} {p16:>9.0f} {p1 / floor[0]:>10.2f} {p1 / redis[0]:>8.2f} {p16 / redis[1]:>9.2f} {costs[0]:>16} {costs[1]:>16}")
    for name in names if against else ():
        (p1, p16), (then1, then16) = rate[name], rate[f"{name} ({against})"]
        print(f"{name}: P1 {p1 / then1:.2f}x, P16 {p16 / then16:.2f}x what {against} reaches ({then1:.0f}, {then16:.0f} req/s)")
    print("acct: throughput lost to request accounting, 1 - with/without REQUEST_METRICS, median [min, max] over the")
    print("      paired repeats (each pair ran back to back); a negative figure is noise.")


def accounting_cost(with_metrics, without):
    costs = sorted(1 - on / off for on, off in zip(with_metrics, without))
    return f"{statistics.median(costs):+.1%} [{costs[0]:+.0%},{costs[-1]:+.0%}]"


if __name__ == "__main__":
    main()
