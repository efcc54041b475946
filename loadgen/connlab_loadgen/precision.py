"""Sub-millisecond latencies, kept as such.

Locust keeps each response time in a histogram keyed by the time rounded to whole
milliseconds below 100 ms, so a 0.3 ms round trip would report as 0 ms. Locust makes
that rounding replaceable (locust.stats.bucket_response_time, see "customizing
response-time bucketing" in its docs): ours keeps two significant digits down to
10 microseconds. Locust's console table and CSV still print percentiles as integers,
so at the end we print (and write next to the CSVs) the same percentiles in ms with
three decimals, from the same aggregated histogram; and the min/max the web UI shows
keep two decimals instead of Locust's whole milliseconds.
"""

import csv
import io

from locust import stats

PERCENTILES = (0.5, 0.9, 0.95, 0.99, 0.999, 1.0)


def bucket_response_time(response_time):
    if response_time < 1:
        return round(response_time, 2)
    if response_time < 10:
        return round(response_time, 1)
    if response_time < 100:
        return round(response_time)
    if response_time < 1000:
        return int(round(response_time, -1))
    if response_time < 10000:
        return int(round(response_time, -2))
    return int(round(response_time, -3))


_proper_round = stats.proper_round


def proper_round(value, digits=0):
    """What Locust sends the web UI as min/max response times: keep 0.01 ms, not whole ms."""
    return _proper_round(value, max(digits, 2))


def install():
    stats.bucket_response_time = bucket_response_time
    stats.proper_round = proper_round


def rows(request_stats):
    """(type, name, requests, failures, avg, min, p50 ... p100) for each entry and the total."""
    entries = sorted(request_stats.entries.values(), key=lambda e: (e.method or "", e.name))
    for entry in [*entries, request_stats.total]:
        if entry.num_requests == 0:
            continue
        yield (
            entry.method or "",
            entry.name,
            entry.num_requests,
            entry.num_failures,
            entry.avg_response_time,
            entry.min_response_time or 0.0,
            *(entry.get_response_time_percentile(p) for p in PERCENTILES),
        )


HEADER = ("Type", "Name", "# reqs", "# fails", "avg", "min", *(f"p{p * 100:g}" for p in PERCENTILES))


def table(request_stats):
    lines = ["Latency in ms (10 us resolution below 1 ms):",
             "%-6s %-20s %9s %8s " % HEADER[:4] + " ".join("%9s" % h for h in HEADER[4:])]
    for row in rows(request_stats):
        lines.append("%-6s %-20s %9d %8d " % row[:4] + " ".join("%9.3f" % value for value in row[4:]))
    return "\n".join(lines)


def csv_text(request_stats):
    """The same table as CSV."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for row in rows(request_stats):
        writer.writerow([*row[:4], *(f"{value:.3f}" for value in row[4:])])
    return out.getvalue()


def write_csv(request_stats, path):
    with open(path, "w", newline="") as handle:
        handle.write(csv_text(request_stats))
