"""Reading a server's /metrics in tests."""

import time
import urllib.request
from collections import defaultdict

from prometheus_client.parser import text_string_to_metric_families


def _families(server):
    with urllib.request.urlopen(server.metrics_url, timeout=10) as response:
        return list(text_string_to_metric_families(response.read().decode()))


def family_names(server):
    """The metric families on the server's /metrics (counters without `_total`)."""
    return {family.name for family in _families(server)}


def scrape(server):
    """{sample name: [samples]} from the server's /metrics."""
    samples = defaultdict(list)
    for family in _families(server):
        for sample in family.samples:
            samples[sample.name].append(sample)
    return samples


def total(samples, name, **labels):
    """Sum of the samples called `name` whose labels include `labels`."""
    return sum(s.value for s in samples.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items()))


def resources(server, samples=None):
    """What a leak would show in: the server's memory, descriptors and threads, and the
    protocol errors it has answered (from `samples`, a scrape, or a new one)."""
    samples = samples or scrape(server)
    return {
        "memory": total(samples, "connlab_resident_memory_bytes"),
        "fds": total(samples, "connlab_open_fds"),
        "threads": total(samples, "connlab_threads"),
        "protocol_errors": total(samples, "connlab_protocol_errors_total"),
    }


def settled(server, baseline):
    """The server is back to its idle state: no connection, queued request, thread or fd
    left over beyond `baseline` (a scrape)."""
    now = scrape(server)
    return (
        total(now, "connlab_connections_active") == 0
        and total(now, "connlab_queue_depth") == 0
        and total(now, "connlab_threads") <= total(baseline, "connlab_threads")
        and total(now, "connlab_open_fds") <= total(baseline, "connlab_open_fds")
    )


def steady(server, apart=0.25, timeout=15):
    """A scrape taken once the server has started every thread it starts: its threads
    and fds the same in two scrapes `apart` seconds apart (a server answers PING as soon
    as its first thread serves, while the others may still be starting)."""
    deadline = time.monotonic() + timeout
    last = scrape(server)
    while time.monotonic() < deadline:
        time.sleep(apart)
        now = scrape(server)
        if all(total(now, name) == total(last, name) for name in ("connlab_threads", "connlab_open_fds")):
            return now
        last = now
    raise TimeoutError(f"the server's threads and fds did not settle within {timeout}s")
