"""The C reference client: redis-benchmark beside Locust, for every step it can express.

One Locust process costs about as much per request as the servers do, so near their
capacity it measures itself. redis-benchmark (from the connlab/redis image) runs in a
container of its own on the load generator CPUs and the lab's network, and replays a
step as a closed loop of the same connections (`-c users`), the same command (the
very bytes Locust's mix sends), the same pipeline depth (`-P`) and, for a step that
opens a connection per request, a new connection per request (`-k 0`). Its figure is
the server's capacity at that step. Its own CPU is read with the shell's `times`: a
point where redis-benchmark used ≥ 90 % of its cores measured the client, and is
marked so like Locust's.
"""

import math
from collections import defaultdict

from connlab_loadgen.options import Mix
from connlab_loadgen.resp import Decoder

from .clients import RedisBenchmark

NAME = RedisBenchmark.name
LAGGING = 0.8  # a client under this share of the other's rate at the same closed-loop step is bound
MIN_REQUESTS = 2000


def expressible(step):
    """The argv of the one command `step` sends, or None where redis-benchmark cannot
    replay it: several groups of users, a mix of commands, idle connections."""
    if len(step.groups) != 1:
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
    (argv,) = Decoder().decode(mix.commands[0].wire)  # an array of bulk strings decodes as the argv
    return [part.decode() for part in argv]


def arguments(step, argv, host, port, requests, threads):
    """redis-benchmark's command line for `step` against host:port."""
    parameters = step.groups[0].get("parameters", {})
    return RedisBenchmark.command(host, port, argv, clients=step.groups[0]["users"], requests=requests,
                                  pipeline=parameters.get("pipeline", 1), threads=threads,
                                  keepalive=parameters.get("connection_mode") != "per-request")  # fmt: skip


def requests_for(seconds, locust_rps):
    """How many requests make about `seconds` of redis-benchmark: it is somewhat faster
    than Locust (1.1–1.3× at one request per write here, docs/measuring.md), so 1.5×
    what Locust served at the step (the most it served in the sweep, for a closed loop
    of new connections)."""
    return max(MIN_REQUESTS, math.ceil(1.5 * (locust_rps or 0) * seconds))


parse = RedisBenchmark.parse


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
    return point["scenario"], point["target"], point["python"], point["repeat"], point["step"]
