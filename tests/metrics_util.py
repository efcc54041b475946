"""Reading a server's /metrics in tests (with connlab_loadgen.exposition)."""

import time

from connlab_loadgen.exposition import families, fetch, samples, total


def family_names(server):
    """The metric families on the server's /metrics (counters without `_total`)."""
    return {family.name for family in families(fetch(server.metrics_url))}


def scrape(server):
    """{sample name: [samples]} from the server's /metrics."""
    return samples(fetch(server.metrics_url))


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
