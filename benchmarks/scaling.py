"""How each architecture scales with CPUs, with the server pinned to 1, 2, 4, … CPUs:
requests/s and p99 latency of CPU-bound requests (`WORK`) and of blocking ones
(`SLEEP`); new connections a second, each connect, `PING`, close (`NEW PING`, the
accept-storm scenario's load); and the connect-to-reply p99 and max of new connections
arriving at random beside one connection whose `SLEEP`s block its thread back to back
(`NEW PING beside SLEEP`, the blocked-worker scenario's).

Servers run as plain pinned processes, so this also runs on a machine without Docker.
The load comes from client processes pinned to the other CPUs: persistent connections
each with one request in flight (closed loop), new connections so many at a time
(closed loop) or at a rate (open loop, each timed from when it was due). Around the new
connections' loads the server's CPU is read (its processes' /proc stat, exited threads
included) and its threads' (/proc's schedstat, as `make compare` reads them): its CPU
per connection and the acceptor thread's share of it, the model's inputs.

`--pythons` runs every architecture on each Python named, side by side: a server build
(`3.13`, `3.13t`: the server image of that build, started with host networking and
pinned like a process, so Docker is needed) or an interpreter on this machine (a path,
or a name on PATH such as `python3.13t`). Without it: the interpreter running this.

    python benchmarks/scaling.py --cpus 1,2,4,8 --seconds 5 [--pythons 3.13,3.13t]
"""

import argparse
import contextlib
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
from connlab_compare import containers, schedstat, targets  # noqa: E402
from connlab_model.inputs import FIGURES  # noqa: E402  (what a cell may hold)

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

    def threads(self):
        """Its threads' scheduler counters (schedstat.parse), read in its PID namespace."""
        return schedstat.parse(containers.execute(self.container, ["sh", "-c", schedstat.READ], timeout=30)[1])

    def cpu(self):
        """CPU seconds its processes have used, exited threads' included."""
        text = containers.execute(self.container, ["sh", "-c", "cat /proc/[0-9]*/stat"], timeout=30)[1]
        return sum(cpu_seconds(line) for line in text.splitlines() if line.strip())


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

    def threads(self):
        """Its threads' and its children's scheduler counters (schedstat.parse)."""
        mine = descendants(self.process.pid)  # their threads only: all of this machine's take seconds to read
        read = schedstat.READ.replace("/proc/[0-9]*/task/[0-9]*", " ".join(f"/proc/{pid}/task/[0-9]*" for pid in mine))
        return schedstat.parse(subprocess.run(["sh", "-c", read], capture_output=True, text=True).stdout)

    def cpu(self):
        """CPU seconds its processes have used, exited threads' included."""
        found = 0.0
        for pid in descendants(self.process.pid):
            with contextlib.suppress(OSError):
                found += cpu_seconds(Path(f"/proc/{pid}/stat").read_text())
        return found


def cpu_seconds(stat):
    """utime + stime of a /proc/<pid>/stat line, in seconds."""
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid):
    """`pid` and every process below it."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # gone meanwhile
            continue
    found, grew = {pid}, True
    while grew:
        below = {child for child, parent in parents.items() if parent in found}
        grew = not below <= found
        found |= below
    return found


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


def fresh(port, seconds, cpu, results, slots=0, rate=0.0, seed=0):
    """One load process of new connections, each connect, PING, close: `slots` at a time
    (closed loop), or started at random at `rate` a second (open loop, each timed from
    when it was due). Puts (the latency in seconds of each answered, the age of each
    still unanswered at the end: at least its latency; errors). Each binds its own loopback
    address (127.x.y.z), so that connections closed here (TIME_WAIT) do not use up one
    address's ports."""
    import random
    import selectors

    os.sched_setaffinity(0, {cpu})
    selector, draw = selectors.DefaultSelector(), random.Random(seed)
    latencies, errors, count = [], 0, 0

    def start(due):
        nonlocal count
        count += 1
        sock = socket.socket()
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((f"127.{cpu % 250}.{count // 250 % 250}.{count % 250 + 2}", 0))
        sock.connect_ex(("127.0.0.1", port))
        selector.register(sock, selectors.EVENT_WRITE, [due, bytearray()])

    now = time.perf_counter()
    end, due = now + seconds, now
    for _ in range(slots):
        start(now)
    while (now := time.perf_counter()) < end:
        while rate and due <= now:
            start(due)
            due += draw.expovariate(rate)
        for key, events in selector.select(timeout=min(0.05, max(0.0, due - now)) if rate else 0.05):
            sock, (started, reply) = key.fileobj, key.data
            try:
                if events & selectors.EVENT_WRITE:  # connected (or refused: send says)
                    sock.send(b"PING\r\n")
                    selector.modify(sock, selectors.EVENT_READ, key.data)
                    continue
                if not (chunk := sock.recv(64)):
                    raise ConnectionResetError
                reply += chunk
                if not reply.endswith(b"\r\n"):
                    continue
                latencies.append(time.perf_counter() - started)
            except OSError:
                errors += 1
            selector.unregister(sock)
            sock.close()
            if slots:
                start(time.perf_counter())
    pending = [end - key.data[0] for key in selector.get_map().values()] if rate else []
    results.put((latencies, pending, errors))


def sleeper(port, request, cpu, ready, done):
    """One connection sending `request` back to back (the blocked worker's) until `done`."""
    os.sched_setaffinity(0, {cpu})
    with socket.create_connection(("127.0.0.1", port)) as sock:
        ready.set()
        while not done.is_set():
            sock.sendall(request)
            reply = b""
            while not reply.endswith(b"\r\n"):
                reply += sock.recv(64) or b"\r\n"  # closed: stop waiting


CONNTRACK = Path("/proc/sys/net/netfilter")  # the kernel's connection tracking, where loaded (Docker's NAT loads it)
FRESH_MOST = 20_000  # new connections a second the closed loop may reach here, for the room it needs


def conntrack():
    """(tracked connections, the table's size), or None where nothing tracks them."""
    try:
        return int((CONNTRACK / "nf_conntrack_count").read_text()), int((CONNTRACK / "nf_conntrack_max").read_text())
    except OSError:
        return None


def wait_for_room(needed, patience=300):
    """Until connection tracking has room for `needed` more: a full table drops new SYNs,
    which clients retry after 1 s, then 3 s, timing the table, not the server (a closed
    connection stays in it for two minutes). Seconds waited."""
    started = time.monotonic()
    while (table := conntrack()) and table[0] + min(needed, table[1] // 2) > 0.9 * table[1]:  # a cell fills half at most
        if time.monotonic() - started > patience:
            raise RuntimeError(f"connection tracking holds {table[0]} of {table[1]} entries after {patience} s")
        time.sleep(1)
    return time.monotonic() - started


def measure_fresh(server, port, seconds, client_cpus, slots=0, rate=0.0, blocking=None, most=FRESH_MOST):
    """{rps: new connections answered a second, p99_ms, max_ms, errors, server_cpu: the
    CPUs the server used, cost_us: its CPU per connection answered, other_share: the
    share of it in threads of no named role (the acceptor's, where there is one)} of new
    connections `slots` at a time or at `rate` a second over the clients, beside a
    connection sending `blocking` back to back where given (`most`: the closed loop's
    rate at most). `tracking_full`: the kernel's connection tracking was full at the end
    (SYNs were dropped: the cell timed that, and is left out of the JSON)."""
    if (waited := wait_for_room(int(seconds * (rate or most)))) >= 1:
        print(f"  (waited {waited:.0f} s for room in the kernel's connection tracking)", file=sys.stderr, flush=True)
    results, ready, done = multiprocessing.Queue(), multiprocessing.Event(), multiprocessing.Event()
    helpers = []
    if blocking:
        helpers.append(multiprocessing.Process(target=sleeper, args=(port, blocking, client_cpus[0], ready, done)))
        helpers[0].start()
        ready.wait(10)
    before, cpu_before, started = server.threads(), server.cpu(), time.monotonic()
    procs = [multiprocessing.Process(target=fresh, args=(port, seconds, cpu, results, max(1, slots // len(client_cpus)) if slots else 0,
                                                         rate / len(client_cpus), index))
             for index, cpu in enumerate(client_cpus)]  # fmt: skip
    for proc in procs:
        proc.start()
    answers = [results.get(timeout=seconds + 30) for _ in procs]
    after, cpu, elapsed = server.threads(), server.cpu() - cpu_before, time.monotonic() - started
    done.set()
    for proc in procs + helpers:
        proc.join(15)
    answered = [latency for mine, _, _ in answers for latency in mine]
    latencies = sorted(answered + [age for _, pending, _ in answers for age in pending])  # the unanswered: at least
    other = schedstat.per_role(before, after, elapsed).get("other", {}).get("cpu_ms", 0.0) * elapsed / 1000
    # The server is idle outside the clients' seconds: its CPU over them is what it used under load.
    return {"rps": len(answered) / seconds, "errors": sum(errors for _, _, errors in answers),
            "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else float("nan"),
            "max_ms": latencies[-1] * 1000 if latencies else float("nan"), "server_cpu": cpu / seconds,
            "cost_us": cpu / len(answered) * 1e6 if answered else None, "other_share": min(1.0, other / cpu) if cpu else None,
            "tracking_full": bool((table := conntrack()) and table[0] >= 0.98 * table[1])}  # fmt: skip




def loads_of(args):
    """{name: (spec as the JSON's loads hold it, measure(server, port, client CPUs) -> figures)}
    of the loads --loads names."""
    work, sleep = b"WORK %d\r\n" % args.work_us, b"SLEEP %d\r\n" % args.sleep_ms
    persistent = lambda request: lambda server, port, cpus: dict(  # noqa: E731
        zip(("rps", "p99_ms"), measure(port, request, args.seconds, cpus, args.connections)))
    known = {
        "work": (f"WORK {args.work_us}us", {"work_us": args.work_us}, persistent(work)),
        "sleep": (f"SLEEP {args.sleep_ms}ms", {"sleep_ms": args.sleep_ms}, persistent(sleep)),
        "new": ("NEW PING", {"new": True},
                lambda server, port, cpus: measure_fresh(server, port, args.seconds, cpus, slots=args.connections)),
        "blocked": (f"NEW PING beside SLEEP {args.block_ms}ms", {"new": True, "rate": args.rate, "sleep_ms": args.block_ms},
                    lambda server, port, cpus: measure_fresh(server, port, args.seconds, cpus, rate=args.rate,
                                                             blocking=b"SLEEP %d\r\n" % args.block_ms)),
    }  # fmt: skip
    names = args.loads.split(",")
    if unknown := [n for n in names if n not in known]:
        sys.exit(f"--loads: {', '.join(unknown)}: choose among {', '.join(known)}")
    return {known[n][0]: known[n][1:] for n in names}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpus", default="1", help="server CPU counts to try, e.g. 1,2,4,8")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--loads", default="work,sleep,new,blocked", help="of work, sleep, new, blocked")
    parser.add_argument("--work-us", type=int, default=200, help="CPU per WORK request")
    parser.add_argument("--sleep-ms", type=int, default=5, help="block per SLEEP request")
    parser.add_argument("--connections", type=int, default=64, help="persistent connections, or new ones at a time")
    parser.add_argument("--rate", type=float, default=100, help="new connections a second beside the blocking one")
    parser.add_argument("--block-ms", type=int, default=100, help="block per SLEEP of the blocking connection")
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
    loads = loads_of(args)
    print(f"{len(available)} CPUs; server on the first N, load on the rest; {args.connections} connections, {args.seconds:g} s each")
    columns = " ".join(f"{f'{n} CPU':>9}" for n in counts)
    print(f"{'architecture':<18} {'load':<12} " + " | ".join(f"{Path(p).name + ':':<8}{columns} speed-up" for p in pythons))
    port = 17100
    tables = {python: {figure: {} for figure in FIGURES} for python in pythons}  # {figure: {arch: {load: {cpus: value}}}}
    for arch in args.archs.split(","):
        for load, (_, measuring) in loads.items():
            cells = []
            for python in pythons:
                found = []
                for n in counts:
                    server_cpus, client_cpus = set(available[:n]), available[n:]
                    port += 2
                    server = start_server(python, arch, server_cpus, port)
                    try:
                        found.append(measuring(server, port, client_cpus))
                    finally:
                        server.stop()
                for figure in FIGURES:
                    if any(cell.get(figure) is not None for cell in found):
                        tables[python][figure].setdefault(arch, {})[load] = {
                            str(n): round(cell[figure], 4) for n, cell in zip(counts, found)
                            if cell.get(figure) is not None and not cell.get("tracking_full")}  # fmt: skip
                rates = [cell["rps"] for cell in found]
                speedup = rates[-1] / rates[0] if rates[0] else float("nan")
                cells.append(" " * 8 + " ".join(f"{r:>9.0f}" for r in rates) + f" {speedup:>7.2f}x"
                             + " p99 ms " + " ".join(f"{cell['p99_ms']:.3g}" for cell in found)
                             + ("  max ms " + " ".join(f"{cell['max_ms']:.3g}" for cell in found) if "max_ms" in found[0] else "")
                             + ("  (connection tracking full: SYNs dropped)" if any(c.get("tracking_full") for c in found) else ""))
            print(f"{arch:<18} {load:<12} " + " | ".join(cells), flush=True)
    if args.json:
        write_json(args, loads, tables, len(available))


def write_json(args, loads, tables, cpus):
    """The table in the form connlab_model's inputs read (experiments/connlab_model/data/)."""
    for python, figures in tables.items():
        path = Path(args.json if len(tables) == 1 else f"{Path(args.json).with_suffix('')}-{Path(python).name}.json")
        free = python.endswith("t") if python in BUILDS else subprocess.run(
            [shutil.which(python) or python, "-c", "import sys; print(sys._is_gil_enabled())"],
            capture_output=True, text=True).stdout.strip() == "False"  # fmt: skip
        path.write_text(json.dumps({
            "source": f"make bench-scaling CPUS={args.cpus} on a {cpus}-CPU machine, {Path(python).name}, "
                      f"{args.seconds:g} s per cell, {args.connections} connections with one request in flight "
                      f"(or new ones at a time)",
            "python": Path(python).name, "gil": not free, "connections": args.connections,
            "loads": {name: spec for name, (spec, _) in loads.items()},
            **{figure: table for figure, table in figures.items() if table}}, indent=1))  # fmt: skip
        print(f"connlab: {path}")


if __name__ == "__main__":
    main()
