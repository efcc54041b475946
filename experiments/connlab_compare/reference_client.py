"""The C reference client beside Locust, for every step it can express: one per protocol
(clients.py: redis-benchmark for RESP, wrk for HTTP), picked by the cell's protocol.

One Locust process costs about as much per request as the servers do, so near their
capacity it measures itself. The C client runs in a container of its own (from the
image its class names) on the load generator CPUs and the lab's network, and replays a
step as a closed loop of the same connections (`-c users`), the same command (the one
Locust's mix sends), the same pipeline depth and, for a step that opens a connection per
request, a new connection per request, where the client can. Its figure is the server's
capacity at that step. Its own CPU is read with the shell's `times`: a point where the
client used ≥ 90 % of its cores measured the client, and is marked so like Locust's.
"""

import inspect
import math
from collections import defaultdict

from connlab_loadgen.options import Mix
from connlab_loadgen.resp import Decoder

from . import clients

LAGGING = 0.8  # a client under this share of the other's rate at the same closed-loop step is bound
MIN_REQUESTS = 2000
# The C clients by the protocol they speak: every class of clients.py with a `protocol`.
BY_PROTOCOL = {kind.protocol: kind for kind in vars(clients).values() if isinstance(kind, type) and hasattr(kind, "protocol")}
NAMES = tuple(kind.name for kind in BY_PROTOCOL.values())


def client(protocol):
    """The C client that speaks `protocol`, or None where there is none."""
    return BY_PROTOCOL.get(protocol)


def expressible(step, protocol="resp"):
    """The argv of the one command `step` sends, or None where the protocol's C client
    cannot replay it: several groups of users, a mix of commands, idle connections, or
    an option its command line refuses (ValueError), such as a pipeline it cannot send."""
    kind = client(protocol)
    if kind is None or len(step.groups) != 1:
        return None
    parameters = step.groups[0].get("parameters", {})
    if parameters.get("connection_mode", "persistent") not in ("persistent", "per-request"):
        return None
    try:
        mix = Mix.parse(parameters.get("mix", "PING:1"), parameters.get("echo_bytes", 16),
                        parameters.get("work_us", 100), parameters.get("sleep_ms", 10))  # fmt: skip
    except ValueError:
        return None
    if len(mix.commands) != 1:
        return None
    (argv,) = Decoder().decode(mix.commands[0].wire)  # an array of bulk strings decodes as the argv (RESP's, any protocol's)
    argv = [part.decode() for part in argv]
    try:
        arguments(step, argv, "target", 1, 1, protocol)
    except ValueError:
        return None
    return argv


def arguments(step, argv, host, port, threads, protocol="resp", seconds=1.0, locust_rps=None):
    """The protocol's C client's command line for `step` against host:port, about
    `seconds` long: a client that counts requests (redis-benchmark -n) is given a count
    (requests_for), one that runs for a time (wrk -d) the seconds."""
    kind, parameters = client(protocol), step.groups[0].get("parameters", {})
    counts = "requests" in inspect.signature(kind.command).parameters
    length = {"requests": requests_for(seconds, locust_rps)} if counts else {"seconds": max(1, math.ceil(seconds))}
    return kind.command(host, port, argv, clients=step.groups[0]["users"], pipeline=parameters.get("pipeline", 1),
                        threads=threads, keepalive=parameters.get("connection_mode") != "per-request", **length)  # fmt: skip


def requests_for(seconds, locust_rps):
    """How many requests make about `seconds` of the C client: redis-benchmark is somewhat faster
    than Locust (1.1–1.3× at one request per write here, docs/measuring.md), so 1.5×
    what Locust served at the step (the most it served in the sweep, for a closed loop
    of new connections)."""
    return max(MIN_REQUESTS, math.ceil(1.5 * (locust_rps or 0) * seconds))


def parse(output, threads=1, protocol="resp"):
    """The protocol's C client's figures from its output (AttributeError: not a finished run)."""
    return client(protocol).parse(output, threads)


def failed(output):
    """The figures of a run that did not complete: nothing served, one error."""
    return {"rps": 0.0, "p50_ms": None, "p99_ms": None, "p999_ms": None, "max_ms": None, "errors": 1,
            "requests": 0, "loadgen_cpu": 0.0, "loadgen_bound": False, "histogram": {},
            "failure": output.strip().splitlines()[-1][:200] if output.strip() else "no output"}  # fmt: skip


def mark_lagging(points):
    """Capacity from the fastest client: where both clients measured the same closed-loop
    step, the one that reached under LAGGING × the other's rate is bound there, whatever
    its CPU gauge read (a closed loop waits on its client's time per request, which no
    CPU figure shows). Marked in place; twins are the same cell's points at one step label."""
    pairs = defaultdict(dict)
    for point in points:
        pairs[_key(point)][point["client"]] = point
    for pair in pairs.values():
        if len(pair) < 2:
            continue
        (slow, slower), (fast, faster) = sorted(pair.items(), key=lambda item: item[1]["metrics"]["rps"])
        figures, rate = slower["metrics"], faster["metrics"]["rps"]
        if rate and not figures["loadgen_bound"] and figures["rps"] < LAGGING * rate:
            figures["loadgen_bound"] = True
            figures["bound_by"] = f"{figures['rps'] / rate:.2f}× {fast}'s rate at the same step"


def _key(point):
    return point["scenario"], point["target"], point["python"], point["protocol"], point["repeat"], point["step"]
