"""make bench-server: every architecture and mode next to two anchors, on one server CPU.

Each server runs alone in its container, pinned to one CPU; redis-benchmark
(`ping_mbulk`, 50 connections) runs in a container pinned to another CPU, on the same
Docker network (the published-port proxy would cost more than the servers). Anchors,
measured in the same run: every reference server (references/: redis-server, in C;
--anchor names the one the ratios are to) and a bare asyncio PING server (the Python
floor: no parsing, no accounting). Every design (experiments/connlab_compare/targets.py)
runs twice, with request accounting on and with REQUEST_METRICS=0 (a setting for this
benchmark only).
First it times each stage of a request in the server's own code (hot_path.py). With
--pythons 3.13,3.13t both builds run, side by side: the stages say what the interpreter
costs per request on its own (one thread, nothing shared), the servers what it costs
with connlab's threads sharing objects; the difference between the two ratios is
connlab's part. A benchmark, not a test: it prints figures and ratios and asserts nothing.
With --protocol http the designs speak HTTP/1.1 beside the HTTP references, driven by wrk
(bench_server_http.py).

    python benchmarks/bench_server.py [--targets single-thread,hybrid] [--repeat 3] [--pythons 3.13,3.13t] [--protocol http]
"""

import argparse
import json
import os
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "services"), str(ROOT / "experiments")]
from connlab.config import server_image  # noqa: E402
from connlab_compare import containers, targets  # noqa: E402
from connlab_compare.clients import RedisBenchmark  # noqa: E402

TAG = targets.tag()
ASYNCIO_PING = "/bench/asyncio_ping.py"
FLOOR = "asyncio PING (floor)"


@dataclass
class Server:
    """One server to measure: a target on a build (or the bare asyncio floor), as labelled."""

    label: str
    image: str
    port: int
    ready: tuple
    env: dict = field(default_factory=dict)
    command: list | None = None
    volumes: dict = field(default_factory=dict)


def labelled(name, python, pythons):
    return name if len(pythons) == 1 else f"{name} [{python}]"


def reference_server(target):
    """A reference as a Server, with its variant's own environment."""
    image, env = target.run_spec(None)
    return Server(target.label, image, target.port, target.ready, env)


def anchors(pythons, references):
    """Every anchor reference that speaks RESP (redis-benchmark's protocol), and the Python floor."""
    yield [reference_server(target) for target in references.values()
           if RedisBenchmark.protocol in target.protocols and target.anchor]  # fmt: skip
    yield [Server(labelled(FLOOR, python, pythons), server_image(python, TAG), targets.SERVER_PORT, targets.HEALTHCHECK,
                  command=["python", ASYNCIO_PING], volumes={str(ROOT / "benchmarks/asyncio_ping.py"): (ASYNCIO_PING, "ro")})
           for python in pythons]  # fmt: skip


def with_and_without_accounting(target, pythons, against=None):
    """`target` (a design) as built on each build, with accounting and without; and as in the image `against`."""
    runs = []
    for python in pythons:
        mine = labelled(target.name, python, pythons)
        runs += [(mine, python, None, "1"), (f"{mine} (no accounting)", python, None, "0")]
    if against:
        runs.append((f"{target.name} ({against})", pythons[0], against, "1"))
    for label, python, image, metrics in runs:
        own, env = target.run_spec(python, {"REQUEST_METRICS": metrics})
        yield Server(label, image or own, target.port, target.ready, env)


def groups(names, pythons, against=None):
    """The servers to measure, in groups that run side by side: the anchors, then each design."""
    designs = targets.design_targets()
    return [*anchors(pythons, targets.references()),
            *(list(with_and_without_accounting(designs[name], pythons, against)) for name in names)]


def start(server, network, cpu, container):
    try:
        containers.run(server.image, server.command, name=container, network=network, cpus=cpu, env=server.env,
                       volumes=server.volumes)  # fmt: skip
        containers.wait_ready(container, server.ready, 30, server.label)
    except containers.ContainerError as exc:
        sys.exit(f"bench-server: {exc}")


def redis_benchmark(network, cpu, host, port, pipeline, requests, clients):
    """Requests/s of `ping_mbulk` (PING as a RESP array, what clients send)."""
    command = RedisBenchmark.command(host, port, tests="ping_mbulk", clients=clients, requests=requests, pipeline=pipeline)
    try:
        _, output = containers.run_to_end(targets.image(RedisBenchmark.image), command, name=f"{host}-client",
                                          network=network, cpus=cpu, timeout=300)  # fmt: skip
        return RedisBenchmark.parse(output)["rps"]
    except containers.ContainerError as exc:
        sys.exit(f"bench-server: redis-benchmark against {host}: {exc}; is the server answering?")
    except AttributeError:
        sys.exit(f"bench-server: no result from redis-benchmark against {host}:\n{output}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", "--variants", dest="targets", default=",".join(targets.design_targets()),
                        help="comma-separated, from: " + ", ".join(targets.design_targets()))
    parser.add_argument("--anchor", default="redis", help="the reference the ratios are to (references/<name>)")
    parser.add_argument("--server-cpu", default=os.environ.get("SERVER_CPU", "1"))
    parser.add_argument("--client-cpu", default=os.environ.get("CLIENT_CPU", "0"))
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=100_000, help="per P1 run; P16 runs send 10x as many")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the median is shown")
    parser.add_argument("--pythons", default=os.environ.get("PYTHON", "3.13"), help="server builds: 3.13, 3.13t or both")
    parser.add_argument("--against", help="another server image (e.g. one built from an earlier commit) to run beside each variant")
    parser.add_argument("--protocol", choices=("resp", "http"), default="resp",
                        help="what the designs speak: RESP (redis-benchmark) or HTTP/1.1 (wrk, bench_server_http.py)")
    parser.add_argument("--seconds", type=int, default=3, help="HTTP only: wrk's duration at each point")
    args = parser.parse_args()
    names = [n.strip() for n in args.targets.split(",") if n.strip()]
    unknown = [n for n in names if n not in targets.design_targets()]
    if unknown:
        sys.exit(f"bench-server: unknown design(s) {', '.join(unknown)}; choose from: {', '.join(targets.design_targets())}")
    references = targets.references()
    if args.anchor not in references:
        sys.exit(f"bench-server: --anchor {args.anchor}: no such reference; choose from: {', '.join(references)}")

    pythons = [p for p in args.pythons.split(",") if p]
    if args.protocol == "http":
        return http(args, names, pythons)
    stages = {python: hot_path(python, args.server_cpu) for python in pythons}
    print_stages(stages)
    network = f"connlab-bench-server-{os.getpid()}"
    containers.network(network)
    print(f"{', '.join(server_image(p, TAG) for p in pythons)} on CPU {args.server_cpu}, redis-benchmark on CPU {args.client_cpu}, {args.clients} connections, "
          f"median of {args.repeat}; P1 {args.requests} requests, P16 {10 * args.requests}", file=sys.stderr)
    runs = {}  # target name -> {pipeline: [req/s of each repeat]}
    try:
        # Servers compared with each other run side by side (idle but one) and take turns,
        # so that a slow spell of the shared machine hits both alike.
        for group in groups(names, pythons, args.against):
            names_of = [f"{network}-{len(runs) + i}" for i in range(len(group))]
            try:
                for server, container in zip(group, names_of):
                    start(server, network, args.server_cpu, container)
                    runs[server.label] = {1: [], 16: []}
                bench = lambda server, container, p: redis_benchmark(  # noqa: E731
                    network, args.client_cpu, container, server.port, p, args.requests * (10 if p > 1 else 1), args.clients)
                for server, container in zip(group, names_of):
                    bench(server, container, 1)  # warm-up
                for _ in range(args.repeat):
                    for pipeline in (1, 16):
                        for server, container in zip(group, names_of):
                            runs[server.label][pipeline].append(bench(server, container, pipeline))
                for server in group:
                    print(f"  {server.label:<42} P1 {runs[server.label][1]}  P16 {runs[server.label][16]}", file=sys.stderr, flush=True)
            finally:
                for container in names_of:
                    containers.remove(container)
    finally:
        containers.remove_network(network)
    report(runs, names, args.against, pythons, stages, references, references[args.anchor])


def http(args, names, pythons):
    """--protocol http: the designs beside the HTTP references, driven by wrk."""
    import bench_server_http  # it builds on this module's servers

    if args.against:
        sys.exit("bench-server: --against is for RESP runs only so far")
    if args.seconds < 1:
        sys.exit(f"bench-server: --seconds {args.seconds}: wrk runs for whole seconds, at least 1")
    print_stages({python: hot_path(python, args.server_cpu, "http") for python in pythons})
    network = f"connlab-bench-server-{os.getpid()}"
    containers.network(network)
    try:
        runs, references = bench_server_http.run(args, names, pythons, network)
    finally:
        containers.remove_network(network)
    bench_server_http.report(runs, references)


def hot_path(python, cpu, protocol="resp"):
    """hot_path.py's figures in the server image of `python`, for `protocol`'s requests."""
    try:
        status, out = containers.run_to_end(server_image(python, TAG), ["python", "/bench/hot_path.py", "--json"], cpus=cpu,
                                            env={"PYTHONPATH": "/app", "PROTOCOL": protocol}, stderr=False, timeout=300,
                                            volumes={str(ROOT / "benchmarks/hot_path.py"): ("/bench/hot_path.py", "ro")})  # fmt: skip
    except containers.ContainerError as exc:
        sys.exit(f"bench-server: hot_path.py: {exc}")
    if status:
        sys.exit(f"bench-server: hot_path.py in {server_image(python, TAG)} failed:\n{out}")
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


def report(runs, names, against, pythons, stages, references, anchor):
    """The table: every server's rates and its ratios to the floor and to the `anchor` reference."""
    rate = {name: [statistics.median(by_pipeline[p]) for p in (1, 16)] for name, by_pipeline in runs.items()}
    top = rate[anchor.label]
    print("bench-server: requests/s (median of the repeats), ratios from this one run")
    print(f"{'server':<40} {'P1':>8} {'P16':>9} {'P1/asyncio':>10} {f'P1/{anchor.name}':>8} {f'P16/{anchor.name}':>9} "
          f"{'acct P1':>16} {'acct P16':>16}")  # fmt: skip
    for label in [target.label for target in references.values() if target.label in rate]:
        p1, p16 = rate[label]
        print(f"{label:<40} {p1:>8.0f} {p16:>9.0f} {'':>10} {p1 / top[0]:>8.2f} {p16 / top[1]:>9.2f}")
    for python in pythons:
        floor = rate[labelled(FLOOR, python, pythons)]
        for name in [FLOOR, *names]:
            mine = labelled(name, python, pythons)
            (p1, p16), without = rate[mine], runs.get(f"{mine} (no accounting)")
            costs = [accounting_cost(runs[mine][p], without[p]) for p in (1, 16)] if without else ["", ""]
            print(f"{mine:<40} {p1:>8.0f} {p16:>9.0f} {p1 / floor[0]:>10.2f} {p1 / top[0]:>8.2f} {p16 / top[1]:>9.2f} {costs[0]:>16} {costs[1]:>16}")
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
        for name in [FLOOR, *names]:
            here, there = rate[labelled(name, first, pythons)], rate[labelled(name, python, pythons)]
            print(f"  {name:<52} P1  {there[0] / here[0]:.2f}   P16 {there[1] / here[1]:.2f}")


def accounting_cost(with_metrics, without):
    costs = sorted(1 - on / off for on, off in zip(with_metrics, without))
    return f"{statistics.median(costs):+.1%} [{costs[0]:+.0%},{costs[-1]:+.0%}]"


if __name__ == "__main__":
    main()
