"""Successful requests, recorded in bulk.

Firing Locust's `request` event costs several microseconds per request (the event,
then two StatsEntry.log calls and our Prometheus updates), more than a request to a
fast server. So a successful request only updates a few counters of its command; a
few times a second, and whenever Locust is about to read its statistics (a worker's
report, the end of a test, a user stopping), they are folded into Locust's statistics
with `StatsEntry.extend` (the way a master merges its workers' reports) and into our
Prometheus metrics. Every request still counts singly, with its own latency. Failures
are rare and still fire the `request` event one by one, so they reach Locust's
failure table (and any other listener) as before; other listeners of `request` see
failures only.
"""

import time

from locust import stats as locust_stats

from . import metrics

# Fold at least this often, and at every whole second of wall time (Locust counts
# requests per second by the second they are logged in).
FLUSH_SECONDS = 0.25
METHOD = "RESP"  # Locust's request type when none is given (the protocol's METHOD)


class Batch:
    """One command's successes since the last fold: what StatsEntry.log would have
    kept, request by request."""

    __slots__ = ("total", "minimum", "maximum", "length", "rounded", "first")

    def __init__(self, first):
        self.total = self.maximum = self.length = 0
        self.minimum = float("inf")
        self.rounded = {}  # Locust's rounded response time -> count
        self.first = first  # wall time of its first request

    def add(self, milliseconds, length):
        self.total += milliseconds
        if milliseconds < self.minimum:
            self.minimum = milliseconds
        if milliseconds > self.maximum:
            self.maximum = milliseconds
        self.length += length
        # Looked up at each call: precision.install() replaces Locust's rounding.
        key = locust_stats.bucket_response_time(milliseconds)
        self.rounded[key] = self.rounded.get(key, 0) + 1

    def entry(self, request_stats, name, method, wall):
        """A StatsEntry holding this batch, as StatsEntry.log would have made it."""
        entry = locust_stats.StatsEntry(request_stats, name, method)
        entry.start_time = self.first
        entry.last_request_timestamp = wall
        entry.num_requests = sum(self.rounded.values())
        entry.num_reqs_per_sec[int(wall)] = entry.num_requests
        entry.total_response_time = self.total
        entry.min_response_time, entry.max_response_time = self.minimum, self.maximum
        entry.response_times.update(self.rounded)
        entry.total_content_length = self.length
        return entry


class Recorder:
    def __init__(self, environment, clock=time.perf_counter, wall=time.time):
        self.environment = environment
        self.clock, self.wall = clock, wall
        self._batches = {}  # (name, method) -> Batch
        self.due = 0.0  # clock() at which the next request folds the batches in

    @classmethod
    def of(cls, environment):
        """The environment's one recorder (all users of a process share it)."""
        recorder = getattr(environment, "connlab_recorder", None)
        if recorder is None:
            recorder = environment.connlab_recorder = cls(environment)
        return recorder

    def ok(self, name, milliseconds, length, now, method=METHOD):
        """A request that succeeded; `now` is clock() when its reply was read."""
        key = name, method
        batch = self._batches.get(key)
        if batch is None:
            batch = self._batches[key] = Batch(self.wall())
        batch.add(milliseconds, length)
        if now >= self.due:
            self.flush()

    def flush(self):
        """Fold what was recorded into Locust's statistics and our metrics."""
        wall = self.wall()
        request_stats = self.environment.stats
        for (name, method), batch in self._batches.items():
            entry = batch.entry(request_stats, name, method, wall)
            request_stats.get(name, method).extend(entry)
            request_stats.total.extend(entry)
            metrics.record_successes(name, batch.rounded, batch.total)
        self._batches.clear()
        # The next fold: in FLUSH_SECONDS, or when this wall second ends if sooner.
        self.due = self.clock() + min(FLUSH_SECONDS, int(wall) + 1 - wall)
