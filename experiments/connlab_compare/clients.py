"""The C reference clients: each builds its command line and reads its output, for make
compare (reference_client.py) and the benchmarks alike. redis-benchmark speaks RESP; an
HTTP one (wrk) would sit beside it, with the same two methods.

Its output is read in one form, the default one (with its latency tables), whatever
the command: the benchmarks read its rate from it too.
"""

import re

BOUND_PERCENT = 90.0  # a client at this share of its CPUs measures itself
CPU_MARK = "@@cpu@@"  # the lab prints the shell's `times` after it: the client's CPU seconds
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
        histogram, previous = {}, 0
        for ms in sorted(within):
            if within[ms] > previous:
                histogram[f"{ms:g}"], previous = within[ms] - previous, within[ms]
        avg, low, p50, p95, p99, high = map(float, cls.SUMMARY.search(output).groups())
        total = sum(histogram.values())
        p999 = next((float(ms) for ms in histogram if within[float(ms)] >= 0.999 * total), high)
        # `times`: the shell's user and system time, then its children's (redis-benchmark's).
        clock = [int(m) * 60 + float(s) for m, s in TIMES.findall(times)]
        cpu = 100 * sum(clock[2:4]) / float(seconds) / threads if len(clock) == 4 and float(seconds) else 0.0
        return {
            "rps": float(cls.THROUGHPUT.search(output).group(1)), "p50_ms": p50, "p99_ms": p99, "p999_ms": p999,
            "max_ms": high, "errors": 0, "requests": int(done), "loadgen_cpu": round(cpu, 1),
            "loadgen_bound": cpu >= BOUND_PERCENT, "histogram": histogram,
        }  # fmt: skip

