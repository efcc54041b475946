"""Request accounting that costs almost nothing: per-thread counters in shared memory.

A `Board` is one anonymous shared mapping, made before a multi-process server forks,
cut into slots of int64 counters. Each thread that reads connections or executes
requests takes a slot (`Board.take`) and is its only writer, so recording a request is
two additions in memory: no lock, no file, no system call. Whoever serves /metrics
reads every slot and sums them when it is scraped (metrics.RequestCollector). A slot is
found again by its name, so a replaced worker process carries on its predecessor's
counts and counters never go back.
"""

import collections
import contextlib
import mmap
import multiprocessing
import os
import struct
from bisect import bisect_left

# Sub-millisecond resolution: a loopback round trip is tens of microseconds.
LATENCY_BUCKETS = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
_BOUNDS_NS = tuple(round(bound * 1e9) for bound in LATENCY_BUCKETS)
# A histogram: a count per bucket (`le` bound, then +Inf), then the sum in nanoseconds.
HISTOGRAM_WORDS = len(_BOUNDS_NS) + 2
_SUM = HISTOGRAM_WORDS - 1

# A slot's words. The header is written under the board's lock, once per thread.
OWNER, ROLE, NAME = 0, 1, 2  # owner pid (0: free), what the thread does, name (4 words)
# Roles: a worker reads connections, executes requests, or both; 0 is a helper (the
# acceptor), which has no per-worker series.
READS, EXECUTES = 1, 2
ROLES = {READS: "reader", EXECUTES: "executor", READS | EXECUTES: "reader-executor"}
_NAME_BYTES = 32
ACCEPTED, CLOSED, PROTOCOL_ERRORS, REJECTED, THREADS_STARTED, QUEUED = range(6, 12)
QUEUE_WAIT = 12  # a histogram: time requests waited for this worker (message balancing)
COMMANDS_AT = QUEUE_WAIT + HISTOGRAM_WORDS  # then one histogram per command label


class Board:
    """`capacity` slots for the commands labelled `commands`, shared across fork."""

    def __init__(self, capacity, commands):
        self.capacity = capacity
        self.commands = tuple(commands)
        self.slot_words = COMMANDS_AT + HISTOGRAM_WORDS * len(self.commands)
        # Pages are only touched as slots are taken: the spare capacity costs no memory.
        self._map = mmap.mmap(-1, 8 * (1 + capacity * self.slot_words))
        self._words = memoryview(self._map).cast("q")
        self._lock = multiprocessing.Lock()

    def _slot(self, index):
        start = 1 + index * self.slot_words
        return self._words[start : start + self.slot_words]

    def take(self, name, role=READS | EXECUTES):
        """A slot for the calling thread to write: a free one of that name (a replaced
        process's, or one given back) or a new one."""
        encoded = name.encode()[:_NAME_BYTES].ljust(_NAME_BYTES, b"\0")
        with self._lock:
            used = self._words[0]
            index = next((i for i in range(used) if self._free_named(i, encoded)), used)
            if index == self.capacity:
                raise RuntimeError(f"accounting board full ({self.capacity} slots): raise MAX_CONNECTIONS")
            slot = self._slot(index)
            slot[OWNER], slot[ROLE] = os.getpid(), role
            slot[NAME : NAME + 4] = memoryview(encoded).cast("q")
            self._words[0] = max(used, index + 1)
        return Tally(slot, self.commands)

    def _free_named(self, index, encoded):
        slot = self._slot(index)
        return slot[OWNER] == 0 and slot[NAME : NAME + 4].tobytes() == encoded

    def give_back(self, tally):
        with self._lock:
            tally.words[OWNER] = 0

    @contextlib.contextmanager
    def borrowed(self, name, recording=True):
        """A slot for the life of a short-lived thread (one per connection)."""
        tally = self.take(name)
        tally.recording = recording
        try:
            yield tally
        finally:
            self.give_back(tally)

    def release_process(self, pid):
        """After process `pid` died (the master calls this before replacing it): its
        connections and queued requests are gone, and its slots are free to reuse."""
        with self._lock:
            slots = [s for s in self.slots() if s[OWNER] == pid]
            lost = sum(s[QUEUED] - count(s, QUEUE_WAIT) for s in slots)
            for slot in slots:
                slot[CLOSED] = slot[ACCEPTED]
                slot[OWNER] = 0
            if slots:
                slots[0][QUEUED] -= lost

    def slots(self):
        """Every slot taken so far (live or free), as views of its words."""
        return [self._slot(i) for i in range(self._words[0])]


def name_of(words):
    """The name in a slot's words (a list)."""
    return struct.pack("4q", *words[NAME : NAME + 4]).rstrip(b"\0").decode()


class Tally:
    """One thread's counters. Only that thread calls the recording methods."""

    __slots__ = ("words", "_commands", "recording")

    def __init__(self, words, commands):
        self.words = words
        self._commands = {name: COMMANDS_AT + i * HISTOGRAM_WORDS for i, name in enumerate(commands)}
        self.recording = True  # False only with REQUEST_METRICS=0 (bench-server)

    def requests_done(self, commands, nanoseconds):
        """Requests (labelled `commands`) whose replies were all ready `nanoseconds`
        after they were read. Most often they are one command: one addition to its
        bucket and one to its sum, however many they are."""
        words, bucket, first = self.words, bisect_left(_BOUNDS_NS, nanoseconds), commands[0]
        if len(commands) == 1 or commands.count(first) == len(commands):
            groups = ((first, len(commands)),)
        else:
            groups = collections.Counter(commands).items()
        for command, count in groups:
            base = self._commands[command]
            words[base + bucket] += count
            words[base + _SUM] += count * nanoseconds

    def request_done(self, command, nanoseconds, waited):
        """One request from a queue: it took `nanoseconds` from being read to its
        reply, of which it `waited` in the queue for this worker."""
        words, base = self.words, self._commands[command]
        words[base + bisect_left(_BOUNDS_NS, nanoseconds)] += 1
        words[base + _SUM] += nanoseconds
        words[QUEUE_WAIT + bisect_left(_BOUNDS_NS, waited)] += 1
        words[QUEUE_WAIT + _SUM] += waited

    def count(self, field, times=1):
        self.words[field] += times


def histogram(words, at):
    """(bucket counts, cumulative, ending with +Inf; sum in seconds) of the histogram at
    `at`, summed over `words` (a list of slots' words as lists)."""
    counts, running = [], 0
    for bucket in range(at, at + _SUM):
        running += sum(w[bucket] for w in words)
        counts.append(running)
    return counts, sum(w[at + _SUM] for w in words) / 1e9


def count(words, at):
    """How many observations the histogram at `at` holds in one slot's words."""
    return sum(words[at : at + _SUM])
