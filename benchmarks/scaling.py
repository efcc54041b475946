"""How each architecture scales with CPUs: requests/s and p99 latency of CPU-bound
requests (`WORK`) and of blocking ones (`SLEEP`), with the server pinned to 1, 2, 4, …
CPUs.

Servers run as plain pinned processes, so this also runs on a machine without Docker.
The load comes from client processes pinned to the other CPUs, each keeping its
connections busy with one request in flight (closed loop).

`--pythons` runs every architecture on each Python named, side by side: a server build
(`3.13`, `3.13t`: the server image of that build, started with host networking and
pinned like a process, so Docker is needed) or an interpreter on this machine (a path,
or a name on PATH such as `python3.13t`). Without it: the interpreter running this.

    python benchmarks/scaling.py --cpus 1,2,4,8 --seconds 5 [--pythons 3.13,3.13t]
"""

import argparse
import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "services"), str(ROOT / "experiments")]
from connlab import designs  # noqa: E402
from connlab.config import ARCHITECTURES, cpu_list, server_image  # noqa: E402
from connlab_compare import containers, targets  # noqa: E402

BUILDS = {python: server_image(python, targets.tag()) for python in targets.PYTHONS}


def threads_per_process(arch):
    """WORKERS and PROCESSES follow the CPU count, but a design whose processes are
    counted by PROCESSES (hybrid) keeps its default threads in each."""
    design = designs.of(arch)
    return {"WORKERS": str(design.workers)} if design.processes == "PROCESSES" else {}


class Container:
    """A server build in its container, on the host's network: stopped as a process is."""

    def __init__(self, python, env, cpus, name):
        self.container = containers.run(BUILDS[python], ["python", "-m", "connlab"], name=name, network_mode="host",
                                        cpus=cpu_list(cpus), env=env)  # fmt: skip

    def stop(self):
        containers.stop(self.container, timeout=10)


class Process:
    """A server on an interpreter of this machine, pinned to `cpus`."""

    def __init__(self, python, env, cpus):
        interpreter = shutil.which(python) or python
        self.process = subprocess.Popen([interpreter, "-m", "connlab"], stderr=subprocess.DEVNULL,
                                        env={**os.environ, **env, "PYTHONPATH": str(ROOT / "services")},
                                        preexec_fn=lambda: os.sched_setaffinity(0, cpus))  # fmt: skip

    def stop(self):
        self.process.terminate()
        self.process.wait(15)


def start_server(python, arch, cpus, port):
    env = {"ARCH": arch, "HOST": "127.0.0.1", "PORT": str(port), "METRICS_PORT": str(port + 1),
           "WORKERS": str(len(cpus)), "PROCESSES": str(len(cpus)), **threads_per_process(arch)}  # fmt: skip
    name = f"connlab-scaling-{os.getpid()}-{port}"
    server = Container(python, env, cpus, name) if python in BUILDS else Process(python, env, cpus)
    # A PING from this host: the same wait for a process and a container on the host's network.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16) == b"+PONG\r\n":
                    return server
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"{arch} on {python} did not answer on port {port}")


def client(port, connections, request, seconds, cpu, results):
    """One load process: `connections` sockets, one request in flight on each; puts the
    latency in seconds of every request answered."""
    import selectors

    os.sched_setaffinity(0, {cpu})
    reply_length = 5  # +OK\r\n
    selector = selectors.DefaultSelector()
    for _ in range(connections):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        selector.register(sock, selectors.EVENT_READ, [bytearray(), time.perf_counter()])
        sock.sendall(request)
    latencies, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        for key, _ in selector.select(timeout=0.5):
            buffer, sent = key.data
            buffer += key.fileobj.recv(4096)
            while len(buffer) >= reply_length:
                del buffer[:reply_length]
                now = time.perf_counter()
                latencies.append(now - sent)
                key.data[1] = sent = now
                key.fileobj.sendall(request)
    results.put(latencies)


def measure(port, request, seconds, client_cpus, connections):
    """(requests/s, p99 latency in ms) of `connections` closed-loop connections."""
    results = multiprocessing.Queue()
    per_client = max(1, connections // len(client_cpus))
    procs = [
        multiprocessing.Process(target=client, args=(port, per_client, request, seconds, cpu, results))
        for cpu in client_cpus
    ]
    for proc in procs:
        proc.start()
    answers = [results.get(timeout=seconds + 30) for _ in procs]
    for proc in procs:
        proc.join()
    latencies = sorted(latency for mine in answers for latency in mine)
    p99 = latencies[int(len(latencies) * 0.99)] * 1000 if latencies else float("nan")
    return len(latencies) / seconds, p99


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpus", default="1", help="server CPU counts to try, e.g. 1,2,4,8")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--work-us", type=int, default=200, help="CPU per WORK request")
    parser.add_argument("--sleep-ms", type=int, default=5, help="block per SLEEP request")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--archs", default=",".join(ARCHITECTURES))
    parser.add_argument("--pythons", default=sys.executable, help="3.13, 3.13t, or interpreters, comma-separated")
    parser.add_argument("--json", help="also write the table here, one per Python, as the model reads it (make model INPUTS=)")
    args = parser.parse_args()

    available = sorted(os.sched_getaffinity(0))
    counts = [int(n) for n in args.cpus.split(",")]
    pythons = args.pythons.split(",")
    if max(counts) >= len(available):
        sys.exit(f"--cpus {max(counts)} leaves no CPU for the load (this machine has {len(available)})")
    for python in pythons:
        if python not in BUILDS and not shutil.which(python):
            sys.exit(f"--pythons: {python!r} is neither a server build ({', '.join(BUILDS)}) nor an interpreter here")
    loads = {
        f"WORK {args.work_us}us": b"WORK %d\r\n" % args.work_us,
        f"SLEEP {args.sleep_ms}ms": b"SLEEP %d\r\n" % args.sleep_ms,
    }
    print(f"{len(available)} CPUs; server on the first N, load on the rest; {args.connections} connections, {args.seconds:g} s each")
    columns = " ".join(f"{f'{n} CPU':>9}" for n in counts)
    print(f"{'architecture':<18} {'load':<12} " + " | ".join(f"{Path(p).name + ':':<8}{columns} speed-up" for p in pythons))
    port = 17100
    table = {python: {} for python in pythons}
    tails = {python: {} for python in pythons}  # p99 ms, in the same shape
    for arch in args.archs.split(","):
        for load, request in loads.items():
            cells = []
            for python in pythons:
                rates, p99s = [], []
                for n in counts:
                    server_cpus, client_cpus = set(available[:n]), available[n:]
                    port += 2
                    server = start_server(python, arch, server_cpus, port)
                    try:
                        rate, p99 = measure(port, request, args.seconds, client_cpus, args.connections)
                        rates.append(rate)
                        p99s.append(p99)
                    finally:
                        server.stop()
                table[python].setdefault(arch, {})[load] = {str(n): round(rate) for n, rate in zip(counts, rates)}
                tails[python].setdefault(arch, {})[load] = {str(n): round(p99, 3) for n, p99 in zip(counts, p99s)}
                speedup = rates[-1] / rates[0] if rates[0] else float("nan")
                cells.append(" " * 8 + " ".join(f"{r:>9.0f}" for r in rates) + f" {speedup:>7.2f}x"
                             + " p99 ms " + " ".join(f"{p:.3g}" for p in p99s))
            print(f"{arch:<18} {load:<12} " + " | ".join(cells), flush=True)
    if args.json:
        write_json(args, table, tails, len(available))


def write_json(args, table, tails, cpus):
    """The table in the form connlab_model's inputs read (experiments/connlab_model/data/)."""
    for python, rps in table.items():
        path = Path(args.json if len(table) == 1 else f"{Path(args.json).with_suffix('')}-{Path(python).name}.json")
        free = python.endswith("t") if python in BUILDS else subprocess.run(
            [shutil.which(python) or python, "-c", "import sys; print(sys._is_gil_enabled())"],
            capture_output=True, text=True).stdout.strip() == "False"  # fmt: skip
        path.write_text(json.dumps({
            "source": f"make bench-scaling CPUS={args.cpus} on a {cpus}-CPU machine, {Path(python).name}, "
                      f"{args.seconds:g} s per cell, {args.connections} connections with one request in flight",
            "python": Path(python).name, "gil": not free, "connections": args.connections,
            "loads": {f"WORK {args.work_us}us": {"work_us": args.work_us}, f"SLEEP {args.sleep_ms}ms": {"sleep_ms": args.sleep_ms}},
            "rps": rps, "p99_ms": tails[python]}, indent=1))  # fmt: skip
        print(f"connlab: {path}")


if __name__ == "__main__":
    main()
