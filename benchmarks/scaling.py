"""How each architecture scales with CPUs: requests/s of CPU-bound requests (`WORK`)
and of blocking ones (`SLEEP`), with the server pinned to 1, 2, 4, … CPUs.

Servers run as plain pinned processes (no containers), so this also runs on a machine
without Docker. The load comes from client processes pinned to the other CPUs, each
keeping its connections busy with one request in flight (closed loop).

    python benchmarks/scaling.py --cpus 1,2,4,8 --seconds 5
"""

import argparse
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = {  # name: (ARCH, settings); WORKERS/PROCESSES follow the CPU count
    "single-thread": ("single-thread", {}),
    "single-acceptor": ("single-acceptor", {}),
    "multi-acceptor": ("multi-acceptor", {}),
    "message-balancing": ("message-balancing", {}),
    "socket-sharding": ("socket-sharding", {}),
    "hybrid": ("hybrid", {"WORKERS": "2"}),
}


def start_server(arch, env, cpus, port):
    env = {
        **os.environ,
        **env,
        "ARCH": arch,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "METRICS_PORT": str(port + 1),
        "PYTHONPATH": str(ROOT / "services"),
    }
    env.setdefault("WORKERS", str(len(cpus)))
    env.setdefault("PROCESSES", str(len(cpus)))
    server = subprocess.Popen(
        [sys.executable, "-m", "connlab"],
        env=env,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: os.sched_setaffinity(0, cpus),
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16) == b"+PONG\r\n":
                    return server
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise RuntimeError(f"{arch} did not answer on port {port}")


def client(port, connections, request, seconds, cpu, results):
    """One load process: `connections` sockets, one request in flight on each."""
    import selectors

    os.sched_setaffinity(0, {cpu})
    reply_length = 5  # +OK\r\n
    selector = selectors.DefaultSelector()
    for _ in range(connections):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(request)
        selector.register(sock, selectors.EVENT_READ, bytearray())
    done, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        for key, _ in selector.select(timeout=0.5):
            buffer = key.data
            buffer += key.fileobj.recv(4096)
            while len(buffer) >= reply_length:
                del buffer[:reply_length]
                done += 1
                key.fileobj.sendall(request)
    results.put(done)


def measure(port, request, seconds, client_cpus, connections):
    results = multiprocessing.Queue()
    per_client = max(1, connections // len(client_cpus))
    procs = [
        multiprocessing.Process(target=client, args=(port, per_client, request, seconds, cpu, results))
        for cpu in client_cpus
    ]
    for proc in procs:
        proc.start()
    total = sum(results.get(timeout=seconds + 30) for _ in procs)
    for proc in procs:
        proc.join()
    return total / seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpus", default="1", help="server CPU counts to try, e.g. 1,2,4,8")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--work-us", type=int, default=200, help="CPU per WORK request")
    parser.add_argument("--sleep-ms", type=int, default=5, help="block per SLEEP request")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--archs", default=",".join(CONFIGS))
    args = parser.parse_args()

    available = sorted(os.sched_getaffinity(0))
    counts = [int(n) for n in args.cpus.split(",")]
    if max(counts) >= len(available):
        sys.exit(f"--cpus {max(counts)} leaves no CPU for the load (this machine has {len(available)})")
    loads = {
        f"WORK {args.work_us}us": b"WORK %d\r\n" % args.work_us,
        f"SLEEP {args.sleep_ms}ms": b"SLEEP %d\r\n" % args.sleep_ms,
    }
    print(f"{len(available)} CPUs; server on the first N, load on the rest; {args.connections} connections, {args.seconds:g} s each")
    print(f"{'architecture':<18} {'load':<12} " + " ".join(f"{f'{n} CPU':>10}" for n in counts) + "   speed-up")
    port = 17100
    for name in args.archs.split(","):
        arch, env = CONFIGS[name]
        for load, request in loads.items():
            rates = []
            for n in counts:
                server_cpus, client_cpus = set(available[:n]), available[n:]
                port += 2
                server = start_server(arch, env, server_cpus, port)
                try:
                    rates.append(measure(port, request, args.seconds, client_cpus, args.connections))
                finally:
                    server.terminate()
                    server.wait(15)
            speedup = rates[-1] / rates[0] if rates[0] else float("nan")
            print(f"{name:<18} {load:<12} " + " ".join(f"{r:>10.0f}" for r in rates) + f"   {speedup:.2f}x", flush=True)


if __name__ == "__main__":
    main()
