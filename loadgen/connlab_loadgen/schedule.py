"""Open-loop pacing, as wrk2 does it: sends are due at fixed intervals whatever the
replies do, and latency is measured from when a send was due, not from when it left
(so a stalled server cannot hide its stall by delaying our sends: coordinated omission).
"""

import random
import time

import gevent

from . import metrics

# A send counts as behind schedule when it leaves this much later than it was due.
LATE_TOLERANCE_S = 0.001


class Counts:
    """Sends and late sends in this process since the last report to the master."""

    def __init__(self):
        self.sent = self.late = 0

    def take(self):
        taken = (self.sent, self.late)
        self.sent = self.late = 0
        return taken


COUNTS = Counts()


class Totals:
    """The current test's sends and late sends: the workers' reports on a master, this
    process's own counts when it runs alone."""

    def __init__(self):
        self.sent = self.late = 0

    def add(self, sent, late):
        self.sent += sent
        self.late += late

    def reset(self):
        self.sent = self.late = 0
        COUNTS.take()

    def current(self, alone):
        """(sent, late) so far; `alone`: fold in what this process has not reported."""
        if alone:
            self.add(*COUNTS.take())
        return self.sent, self.late

    def summary(self, alone):
        sent, late = self.current(alone)
        if not sent:
            return "closed loop (no --rate, not idle): no schedule to fall behind"
        return f"open loop: {late} of {sent} paced sends left more than {LATE_TOLERANCE_S * 1000:g} ms behind schedule"


TOTALS = Totals()


class Pacer:
    def __init__(self, interval, clock=time.perf_counter, sleep=gevent.sleep):
        self.interval = interval
        self.clock, self.sleep = clock, sleep
        # A random phase, so that users spread their sends over the interval.
        self.due = clock() + random.uniform(0, interval)

    def wait(self):
        """Sleep until the next send is due; return its due time (the latency origin)."""
        due = self.due
        self.due += self.interval
        delay = due - self.clock()
        if delay > 0:
            self.sleep(delay)  # a stopping user is killed here: that send never counts
        COUNTS.sent += 1
        if -delay > LATE_TOLERANCE_S:
            COUNTS.late += 1
            metrics.BEHIND_SCHEDULE.inc()
        return due


def user_interval(rate, users, batch):
    """Seconds between one user's sends of `batch` requests for `rate` req/s in all."""
    return batch * max(users, 1) / rate
