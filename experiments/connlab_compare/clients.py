"""The C reference clients: each builds its command line and reads its output, for make
compare (reference_client.py) and the benchmarks alike. redis-benchmark speaks RESP, wrk
HTTP/1.1; both have the same two methods and give the same figures.

Each one's output is read in one form, whatever the command: the benchmarks read its
rate from it too.
"""

import json
import re

from connlab.protocols import http

BOUND_PERCENT = 90.0  # a client at this share of its CPUs measures itself
CPU_MARK = "@@cpu@@"  # the lab prints the shell's `times` after it: the client's CPU seconds
MEASURED = f'"$@"; status=$?; echo {CPU_MARK}; times; exit $status'  # sh -c MEASURED sh <client ...>
LOCUST = "locust"  # a point's client; the other is its protocol's C client (redis-benchmark, wrk)
TIMES = re.compile(r"(\d+)m([\d.]+)s")


class RedisBenchmark:
    name = "redis-benchmark"
    protocol = "resp"
    image = "redis"  # the reference whose image carries it (connlab/redis)
    # "Latency by percentile distribution": "99.900% <= 1.231 milliseconds (cumulative count 99901)"
    PERCENTILE_LINE = re.compile(r"^\s*([\d.]+)% <= ([\d.]+) milliseconds \(cumulative count (\d+)\)", re.M)
    COMPLETED = re.compile(r"(\d+) requests completed in ([\d.]+) seconds")
    THROUGHPUT = re.compile(r"throughput summary: ([\d.]+) requests per second")
    # "avg min p50 p95 p99 max" and their values on the next line
    SUMMARY = re.compile(r"avg\s+min\s+p50\s+p95\s+p99\s+max\s*\n\s*" + r"\s+".join([r"([\d.]+)"] * 6))

    @staticmethod
    def command(host, port, argv=(), *, clients=50, requests=100_000, pipeline=1, keepalive=True, threads=1, tests=None):
        """Its command line: `argv` (one command, e.g. ["PING"]) or `tests` (its own -t
        names, e.g. "ping_mbulk") sent by `clients` connections, `pipeline` deep."""
        return ["redis-benchmark", "-h", host, "-p", str(port), "-c", str(max(1, clients)), "-n", str(requests),
                "-P", str(pipeline), "-k", "1" if keepalive else "0",
                *(["--threads", str(threads)] if threads > 1 else []), *(["-t", tests] if tests else []), *argv]  # fmt: skip

    @classmethod
    def parse(cls, output, threads=1):
        """Its figures: rate, latency percentiles, the histogram of its tables; its CPU
        where the shell's `times` follows CPU_MARK. AttributeError: not a finished run."""
        output, _, times = output.partition(CPU_MARK)
        done, seconds = cls.COMPLETED.search(output).groups()
        # Both of its tables ("by percentile" and "cumulative") are points of one distribution:
        # milliseconds -> requests completed within them. Together they are finer than either.
        within = {}
        for _, ms, cumulative in cls.PERCENTILE_LINE.findall(output):
            within[float(ms)] = max(int(cumulative), within.get(float(ms), 0))
        histogram = _histogram(within)
        avg, low, p50, p95, p99, high = map(float, cls.SUMMARY.search(output).groups())
        total = sum(histogram.values())
        p999 = next((float(ms) for ms in histogram if within[float(ms)] >= 0.999 * total), high)
        cpu = _cpu_percent(times, float(seconds), threads)
        return {
            "rps": float(cls.THROUGHPUT.search(output).group(1)), "p50_ms": p50, "p99_ms": p99, "p999_ms": p999,
            "max_ms": high, "errors": 0, "requests": int(done), "loadgen_cpu": round(cpu, 1),
            "loadgen_bound": cpu >= BOUND_PERCENT, "histogram": histogram,
        }  # fmt: skip


class Wrk:
    """wrk (Debian's, in the load generator image): a closed loop of `clients` keep-alive
    connections (or a new connection per request) for a number of seconds. wrk has no
    request count. Its figures come from SCRIPT's `done` hook, one JSON line after REPORT."""

    name = "wrk"
    protocol = "http"
    image = "loadgen"  # the image that carries it (connlab/loadgen), on the load generator CPUs
    SCRIPT = "/app/wrk/connlab.lua"  # loadgen/wrk/connlab.lua: the request, and the report
    REPORT = re.compile(r"^connlab-wrk (\{.*\})$", re.M)
    # A connlab command -> (its path, its Route): the server's own table.
    ROUTES = {route.command.decode(): (path.decode(), route) for path, route in http.ROUTES.items()}

    @classmethod
    def command(cls, host, port, argv=("PING",), *, clients=50, seconds=10, pipeline=1, keepalive=True, threads=1,
                timeout_s=None):  # fmt: skip
        """Its command line: the request of `argv` (one connlab command, e.g. ["SLEEP", "10"])
        sent by `clients` connections for `seconds`, `pipeline` per write; `keepalive=False`
        sends `Connection: close` (a new connection per request)."""
        verb, *args = [str(part) for part in argv] or ["PING"]
        if verb.upper() not in cls.ROUTES:
            raise ValueError(f"wrk: no HTTP request for {verb!r}; it sends {', '.join(cls.ROUTES)}")
        path, route = cls.ROUTES[verb.upper()]
        method, body = route.method.decode(), []
        if route.query is http.BODY:
            body = [args[0] if args else ""]
        elif route.query:
            if len(args) != 1:
                raise ValueError(f"wrk: {verb} takes one argument, not {args}")
            path = f"{path}?{route.query.decode()}={args[0]}"
        if int(seconds) < 1 or int(pipeline) < 1:
            raise ValueError(f"wrk: seconds ({seconds}) and pipeline ({pipeline}) must be at least 1")
        threads = max(1, threads)
        return ["wrk", "-c", str(max(clients, threads)), "-t", str(threads), "-d", f"{int(seconds)}s",
                *(["--timeout", f"{int(timeout_s)}s"] if timeout_s else []),
                *([] if keepalive else ["-H", "Connection: close"]),
                "-s", cls.SCRIPT, f"http://{host}:{port}{path}", "--", str(pipeline), method, *body]  # fmt: skip

    @classmethod
    def parse(cls, output, threads=1):
        """Its figures, RedisBenchmark.parse's keys: rate, latency percentiles, a histogram
        rebuilt from the percentiles, errors (socket errors and replies with a status of 400
        or more, as wrk counts them), its CPU where the shell's `times` follows CPU_MARK.
        With pipelining, wrk times a write's batch of requests as one. AttributeError: not
        a finished run (wrk could not connect, or its script failed)."""
        output, _, times = output.partition(CPU_MARK)
        run = json.loads(cls.REPORT.search(output).group(1))
        seconds = run["duration_us"] / 1e6
        done, errors = run["requests"], sum(run["errors"].values())
        figures = {"rps": done / seconds if seconds else 0.0, "errors": errors, "requests": done,
                   "loadgen_cpu": round(_cpu_percent(times, seconds, threads), 1)}  # fmt: skip
        figures["loadgen_bound"] = figures["loadgen_cpu"] >= BOUND_PERCENT
        if not done:  # nothing answered: no latency to speak of
            return {**figures, "p50_ms": None, "p99_ms": None, "p999_ms": None, "max_ms": None, "histogram": {},
                    "failure": "no request completed"}  # fmt: skip
        points = [(float(p), us / 1000) for p, us in run["percentiles_us"]]
        at = lambda percent: next(ms for p, ms in points if p >= percent - 1e-9)  # noqa: E731
        # The share of requests within each percentile's latency, as counts of `done`.
        within = {}
        for percent, ms in points:
            within[ms] = max(within.get(ms, 0), round(done * percent / 100))
        histogram = _histogram(within)
        return {**figures, "p50_ms": at(50), "p99_ms": at(99), "p999_ms": at(99.9),
                "max_ms": run["latency_us"]["max"] / 1000, "histogram": histogram}  # fmt: skip


def _cpu_percent(times, seconds, threads):
    """The client's share of `threads` CPUs over `seconds`, from the shell's `times` (its
    own user and system time, then its children's: the client's); 0 without them."""
    clock = [int(m) * 60 + float(s) for m, s in TIMES.findall(times)]
    return 100 * sum(clock[2:4]) / seconds / threads if len(clock) == 4 and seconds else 0.0


def _histogram(within):
    """{ms: requests} from {ms: requests completed within it}, cumulative."""
    histogram, previous = {}, 0
    for ms in sorted(within):
        if within[ms] > previous:
            histogram[f"{ms:g}"], previous = within[ms] - previous, within[ms]
    return histogram
