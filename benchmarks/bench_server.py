"""make bench-server: every architecture and mode next to two anchors, on one server CPU.

Each server runs alone in its container, pinned to one CPU; redis-benchmark
(`ping_mbulk`, 50 connections) runs in a container pinned to another CPU, on the same
Docker network (the published-port proxy would cost more than the servers). Anchors,
measured in the same run: redis-server (C) and a bare asyncio PING server (the Python
floor: no parsing, no accounting). Every connlab variant runs twice, with request
accounting on and with REQUEST_METRICS=0 (a setting for this benchmark only).
First it times each stage of a request in the server's own code (hot_path.py). With
--pythons 3.13,3.13t both builds run, side by side: the stages say what the interpreter
costs per request on its own (one thread, nothing shared), the servers what it costs
with connlab's threads sharing objects; the difference between the two ratios is
connlab's part. A benchmark, not a test: it prints figures and ratios and asserts nothing.

    python benchmarks/bench_server.py [--variants single-thread,hybrid] [--repeat 3] [--pythons 3.13,3.13t]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "services"))
from connlab.config import server_image, variants  # noqa: E402

TAG = os.environ.get("CONNLAB_TAG", "latest")
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


def labelled(name, python, pythons):
    return name if len(pythons) == 1 else f"{name} [{python}]"


def anchors(pythons):
    yield [Target("redis-server (C)", [REDIS_IMAGE], ["redis-cli", "ping"], port=6379)]
    yield [Target(labelled("asyncio PING (floor)", python, pythons),
                  ["-v", f"{ROOT / 'benchmarks/asyncio_ping.py'}:{ASYNCIO_PING}:ro", server_image(python), "python",
                   ASYNCIO_PING], ["python", "-m", "connlab.healthcheck"]) for python in pythons]  # fmt: skip


def with_and_without_accounting(name, pythons, against=None):
    """`name` as built on each build, with accounting and without; and as in the image `against`."""
    arch, settings = variants()[name]
    runs = []
    for python in pythons:
        mine = labelled(name, python, pythons)
        runs += [(mine, server_image(python), "1"), (f"{mine} (no accounting)", server_image(python), "0")]
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
    parser.add_argument("--pythons", default=os.environ.get("PYTHON", "3.13"), help="server builds: 3.13, 3.13t or both")
    parser.add_argument("--against", help="another server image (e.g. one built from an earlier commit) to run beside each variant")
    args = parser.parse_args()
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in variants()]
    if unknown:
        sys.exit(f"bench-server: unknown variant(s) {', '.join(unknown)}; choose from: {', '.join(variants())}")

    pythons = [p for p in args.pythons.split(",") if p]
    stages = {python: hot_path(python, args.server_cpu) for python in pythons}
    print_stages(stages)
    network = f"connlab-bench-server-{os.getpid()}"
    docker("network", "create", network)
    print(f"{', '.join(map(server_image, pythons))} on CPU {args.server_cpu}, redis-benchmark on CPU {args.client_cpu}, {args.clients} connections, "
          f"median of {args.repeat}; P1 {args.requests} requests, P16 {10 * args.requests}", file=sys.stderr)
    runs = {}  # target name -> {pipeline: [req/s of each repeat]}
    try:
        # Servers compared with each other run side by side (idle but one) and take turns,
        # so that a slow spell of the shared machine hits both alike.
        groups = [*anchors(pythons), *(list(with_and_without_accounting(n, pythons, args.against)) for n in names)]
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
    report(runs, names, args.against, pythons, stages)


def hot_path(python, cpu):
    """hot_path.py's figures in the server image of `python`."""
    out = docker("run", "--rm", "--cpuset-cpus", cpu, "-e", "PYTHONPATH=/app", "-v",
                 f"{ROOT / 'benchmarks/hot_path.py'}:/bench/hot_path.py:ro", server_image(python), "python",
                 "/bench/hot_path.py", "--json", timeout=300)  # fmt: skip
    return json.loads(out)


def print_stages(stages):
    """The stages of every build side by side, and each build's ratio to the first."""
    pythons = list(stages)
    print("Where a request's time goes, stage by stage (benchmarks/hot_path.py in each server image), "
          "microseconds per request, best of 7:")
    print(f"{'stage':<34}" + "".join(f"{stages[p]['python']:>16}" for p in pythons)
          + "".join(f"{p + '/' + pythons[0]:>14}" for p in pythons[1:]))  # fmt: skip
    for stage in stages[pythons[0]]["stages"]:
        found = [stages[p]["stages"][stage] for p in pythons]
        print(f"{stage:<34}" + "".join(f"{v:>16.2f}" for v in found) + "".join(f"{v / found[0]:>13.2f}x" for v in found[1:]))
    print(flush=True)


def report(runs, names, against, pythons, stages):
    rate = {name: [statistics.median(by_pipeline[p]) for p in (1, 16)] for name, by_pipeline in runs.items()}
    redis = rate["redis-server (C)"]
    print("bench-server: requests/s (median of the repeats), ratios from this one run")
    print(f"{'server':<40} {'P1':>8} {'P16':>9} {'P1/asyncio':>10} {'P1/redis':>8} {'P16/redis':>9} {'acct P1':>16} {'acct P16':>16}")
    p1, p16 = redis
    print(f"{'redis-server (C)':<40} {p1:>8.0f} {p16:>9.0f} {'':>10} {1:>8.2f} {1:>9.2f}")
    for python in pythons:
        floor = rate[labelled("asyncio PING (floor)", python, pythons)]
        for name in ["asyncio PING (floor)", *names]:
            mine = labelled(name, python, pythons)
            (p1, p16), without = rate[mine], runs.get(f"{mine} (no accounting)")
            costs = [accounting_cost(runs[mine][p], without[p]) for p in (1, 16)] if without else ["", ""]
            print(f"{mine:<40} {p1:>8.0f} {p16:>9.0f} {p1 / floor[0]:>10.2f} {p1 / redis[0]:>8.2f} {p16 / redis[1]:>9.2f} {costs[0]:>16} {costs[1]:>16}")
    if len(pythons) > 1:
        build_gap(rate, names, pythons, stages)
    for name in names if against else ():
        (p1, p16), (then1, then16) = rate[name], rate[f"{name} ({against})"]
        print(f"{name}: P1 {p1 / then1:.2f}x, P16 {p16 / then16:.2f}x what {against} reaches ({then1:.0f}, {then16:.0f} req/s)")
    print("acct: throughput lost to request accounting, 1 - with/without REQUEST_METRICS, median [min, max] over the")
    print("      paired repeats (each pair ran back to back); a negative figure is noise.")


def build_gap(rate, names, pythons, stages):
    """Each build's requests/s over the first's: the interpreter's part (the stages of a
    PING request on one thread, nothing shared) beside each server's (connlab's threads)."""
    first, served = pythons[0], ("parse", "execute", "accounting", "buffer replies", "send+recv (both ends)")
    for python in pythons[1:]:
        print(f"{python} against {first}: requests/s ratio (above 1: {python} faster)")
        for depth in ("1", "16"):
            alone = [sum(stages[p]["by_depth"][depth][s] for s in served) for p in (first, python)]
            print(f"  {'stages of one request, one thread (the interpreter)':<52} P{depth:<3} {alone[0] / alone[1]:.2f}")
        for name in ["asyncio PING (floor)", *names]:
            here, there = rate[labelled(name, first, pythons)], rate[labelled(name, python, pythons)]
            print(f"  {name:<52} P1  {there[0] / here[0]:.2f}   P16 {there[1] / here[1]:.2f}")


def accounting_cost(with_metrics, without):
    costs = sorted(1 - on / off for on, off in zip(with_metrics, without))
    return f"{statistics.median(costs):+.1%} [{costs[0]:+.0%},{costs[-1]:+.0%}]"


if __name__ == "__main__":
    main()
