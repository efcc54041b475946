"""make bench-server PROTOCOL=http: every design speaking HTTP/1.1 (PROTOCOL=http) on one
server CPU beside the HTTP anchors (references/ with "http" in their protocols and `anchor`: nginx,
one worker, and uvicorn with httptools, the Python anchor), all driven by wrk.

wrk (Debian's, in the load generator image) runs in a container pinned to another CPU, on
the same Docker network, `GET /ping` for SECONDS at each point: POINTS, keep-alive
connections without pipelining, more of them, and a new connection per request
(`Connection: close`). Servers compared run side by side and take turns, as for RESP
(bench_server.py); each figure is the median of the repeats. Printed: requests/s and
each server's ratio to every reference, wrk's errors and its CPU (near 100 %: the point
measured wrk, not the server). A benchmark, not a test: it asserts nothing.
"""

import statistics
import sys

from bench_server import Server, labelled, reference_server, start
from connlab_compare import containers, targets
from connlab_compare.clients import MEASURED, Wrk

# name -> Wrk.command's arguments: what each point varies.
POINTS = {"keep-alive": {"clients": 50}, "256 conns": {"clients": 256}, "close": {"clients": 50, "keepalive": False}}
# wrk's exit status and its CPU seconds (the shell's `times`), as the lab reads them.


def http_anchors():
    """The references every design is set beside: those that speak HTTP and are anchors."""
    return {name: t for name, t in targets.references().items() if Wrk.protocol in t.protocols and t.anchor}


def groups(names, pythons, references):
    """The HTTP references side by side, then each design on every build (PROTOCOL=http)."""
    designs = targets.design_targets()
    anchors = [reference_server(t) for t in references.values()]
    return [anchors, *([design(designs[name], python, pythons) for python in pythons] for name in names)]


def design(target, python, pythons):
    image, env = target.run_spec(python, {"PROTOCOL": "http"})
    return Server(labelled(target.name, python, pythons), image, target.port, target.ready, env)


def wrk(network, cpu, host, port, seconds, point):
    """Wrk.parse's figures of one point against host:port."""
    command = Wrk.command(host, port, ["PING"], seconds=seconds, **POINTS[point])
    try:
        _, output = containers.run_to_end(targets.image(Wrk.image), ["sh", *command], entrypoint=["sh", "-c", MEASURED],
                                          name=f"{host}-client", network=network, cpus=cpu, timeout=seconds + 120)  # fmt: skip
        return Wrk.parse(output)
    except containers.ContainerError as exc:
        sys.exit(f"bench-server: wrk against {host}: {exc}; is the server answering?")
    except AttributeError:
        sys.exit(f"bench-server: no result from wrk against {host}:\n{output}")


def run(args, names, pythons, network):
    """{label: {point: [figures of each repeat]}} of every server, and the references."""
    references = http_anchors()
    if not references:
        sys.exit("bench-server: no anchor reference speaks HTTP (references/*/reference.toml: protocols, anchor)")
    print(f"PROTOCOL=http: {', '.join(targets.image(t.image) for t in references.values())} and the designs on CPU "
          f"{args.server_cpu}, wrk on CPU {args.client_cpu}, GET /ping for {args.seconds} s a point, median of {args.repeat}",
          file=sys.stderr)  # fmt: skip
    runs = {}
    for group in groups(names, pythons, references):
        containers_of = [f"{network}-{len(runs) + i}" for i in range(len(group))]
        try:
            for server, container in zip(group, containers_of):
                start(server, network, args.server_cpu, container)
                runs[server.label] = {point: [] for point in POINTS}
            for server, container in zip(group, containers_of):  # warm-up
                wrk(network, args.client_cpu, container, server.port, 1, "keep-alive")
            for _ in range(args.repeat):
                for point in POINTS:
                    for server, container in zip(group, containers_of):
                        runs[server.label][point].append(wrk(network, args.client_cpu, container, server.port, args.seconds, point))
            for server in group:
                rates = "  ".join(f"{p} {[round(f['rps']) for f in runs[server.label][p]]}" for p in POINTS)
                print(f"  {server.label:<42} {rates}", file=sys.stderr, flush=True)
        finally:
            for container in containers_of:
                containers.remove(container)
    return runs, references


def report(runs, references):
    """The table: requests/s at each point, and the ratio to each reference."""
    median = {label: {p: statistics.median(f["rps"] for f in by_point[p]) for p in POINTS} for label, by_point in runs.items()}
    anchors = [(t.name, t.label) for t in references.values()]
    print("bench-server PROTOCOL=http: requests/s (median of the repeats), ratios from this one run")
    head = "".join(f"{point:>12}" + "".join(f"{'/' + name:>9}" for name, _ in anchors) for point in POINTS)
    print(f"{'server':<40}{head}{'errors':>8}{'wrk CPU':>9}")
    for label, rates in median.items():
        cells = "".join(f"{rates[p]:>12.0f}" + "".join(f"{rates[p] / median[a][p]:>9.2f}" if median[a][p] else f"{'-':>9}"
                                                           for _, a in anchors) for p in POINTS)  # fmt: skip
        figures = [f for p in POINTS for f in runs[label][p]]
        errors, cpu = sum(f["errors"] for f in figures), max(f["loadgen_cpu"] for f in figures)
        print(f"{label:<40}{cells}{errors:>8}{cpu:>8.0f}%")
    print("errors: wrk's socket errors and replies of status 400 or more, all points and repeats; wrk CPU: the most")
    print("        wrk used of its CPU at any point (near 100 %: that point measured wrk, not the server).")
