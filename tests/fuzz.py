"""Fuzz a live server: malformed and valid frames from many connections at once (issue 6),
in its protocol (PROTOCOL: resp, or http with tests/fuzz_http.py's frames).

Hostile connections each send a few valid requests and then one malformed frame, random
bytes, or a frame cut off by an abrupt close (RST); or they pipeline big ECHOs and reset
the connection while the replies are being written. Meanwhile a few well-behaved
connections pipeline valid requests, sent whole or split at random points, and check
that every reply arrives, in order.
Afterwards the server must still answer and its thread and fd counts must settle back
to the baseline taken before the run.

Used by tests/integration/test_fuzz.py (short form) and `make fuzz`:
    PYTHONPATH=services:tests:loadgen .venv/bin/python tests/fuzz.py
with ARCH (a name from conftest.CONFIGS, or `all`), PYTHON (the server build), PROTOCOL, FUZZ_RUNS
(runs in a row against one server, each with a new random seed), FUZZ_FRAMES,
FUZZ_SECONDS, FUZZ_CONNECTIONS, FUZZ_VALID, FUZZ_SEED (the first run's seed).
"""

import os
import random
import socket
import struct
import sys
import threading
import time
import types
from dataclasses import dataclass, field

import fuzz_http
from connlab_loadgen.resp import bulk, encode
from metrics_util import resources, steady
from wire import read_exactly

# The server runs with small limits so that over-limit frames are cheap to send.
LIMITS = {"MAX_BULK": 4096, "MAX_ARRAY": 64, "MAX_INLINE": 1024}
PROTOCOL_ERROR = b"-ERR Protocol error"
IO_TIMEOUT = 10  # a reply slower than this counts as lost


def valid_request(rng, tag):
    """(request bytes, the exact reply) for a PING or a tagged ECHO, bulk or inline."""
    kind = rng.randrange(4)
    if kind == 0:
        return b"PING\r\n", b"+PONG\r\n"
    if kind == 1:
        return encode(b"PING"), b"+PONG\r\n"
    if kind == 2:  # an inline word: no whitespace in it
        word = b"%s-%d" % (tag, rng.randrange(10**6))
        return b"ECHO " + word + b"\r\n", bulk(word)
    payload = tag + bytes(rng.randrange(256) for _ in range(rng.randrange(64)))  # binary-safe
    return encode(b"ECHO", payload), bulk(payload)


def malformed_frame(rng):
    """A frame the parser must refuse with a protocol error, whatever follows it."""
    max_bulk, max_array, max_inline = LIMITS["MAX_BULK"], LIMITS["MAX_ARRAY"], LIMITS["MAX_INLINE"]
    letters = bytes(rng.choice(b"abcxyz") for _ in range(rng.randrange(1, 6)))
    choices = [
        lambda: b"*%d\r\n" % (max_array + 1 + rng.randrange(2**40)),  # array over the limit
        lambda: b"*1\r\n$%d\r\n" % (max_bulk + 1 + rng.randrange(2**40)),  # bulk over the limit (up to TiBs)
        lambda: b"*1\r\n$-%d\r\n" % rng.randrange(1, 100),  # negative bulk length
        lambda: b"*2\r\n$4\r\nECHO\r\n:%d\r\n" % rng.randrange(100),  # not a bulk string
        lambda: b"*1\r\n$4\r\nPING" + letters + b"\r\n",  # bulk longer than announced
        lambda: b"*" + letters + b"\r\n",  # array length not a number
        lambda: b"*1\r\n$" + letters + b"\r\n",  # bulk length not a number
        lambda: b"*" + b"1" * rng.randrange(40, 200),  # a length line that never ends
        lambda: b"X" * (max_inline + 2 + rng.randrange(max_inline)),  # inline line over the limit
    ]
    return rng.choice(choices)()


def garbage(rng):
    """Random bytes, biased towards RESP's own alphabet."""
    tokens = [b"*", b"$", b"\r\n", b"\n", b"-1", b"0", b"3", b"PING", b"ECHO", b" "]
    parts = [rng.choice(tokens) if rng.random() < 0.6 else rng.randbytes(rng.randrange(1, 16)) for _ in range(rng.randrange(1, 40))]
    return b"".join(parts)


def resp_refused_after(got, replies, status):
    """True if `got` is `replies` (bytes), then RESP's protocol error line."""
    rest = got[len(replies) :]
    return got.startswith(replies) and rest.startswith(PROTOCOL_ERROR) and rest.endswith(b"\r\n")


# Each protocol's frames: what the fuzzer sends, and how it reads what comes back.
FRAMES = {
    "resp": types.SimpleNamespace(
        LIMITS=LIMITS,
        valid=valid_request,
        malformed=lambda rng: (malformed_frame(rng), None),
        garbage=garbage,
        flood=lambda rng: encode(b"ECHO", rng.randbytes(LIMITS["MAX_BULK"])),
        cut=lambda rng: rng.choice([malformed_frame(rng), encode(b"ECHO", rng.randbytes(200))]),
        read_replies=lambda sock, expected: [read_exactly(sock, len(b"".join(expected)))],
        expected=lambda replies: [b"".join(replies)],
        refused_after=lambda got, replies, status: resp_refused_after(got, b"".join(replies), status),
        PING=b"PING\r\n",
        pong=lambda got: got == b"+PONG\r\n",
    ),
    "http": types.SimpleNamespace(
        LIMITS=fuzz_http.LIMITS,
        valid=fuzz_http.valid,
        malformed=fuzz_http.malformed,
        garbage=fuzz_http.garbage,
        flood=fuzz_http.flood,
        cut=fuzz_http.cut,
        read_replies=fuzz_http.read_replies,
        expected=list,
        refused_after=fuzz_http.refused_after,
        PING=fuzz_http.PING,
        pong=fuzz_http.pong,
    ),
}


def send_split(sock, rng, data):
    """Send `data` whole, or (half the time) in pieces cut at random points."""
    if rng.random() < 0.5 or len(data) < 2:
        sock.sendall(data)
        return
    cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randrange(1, 8))))
    for a, b in zip([0, *cuts], [*cuts, len(data)]):
        sock.sendall(data[a:b])


def read_until_closed(sock, deadline):
    got = bytearray()
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            return bytes(got), True
        got += chunk
    return bytes(got), False


def abort(sock):
    """Close with a RST, as a crashed client would."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@dataclass
class Report:
    seed: int
    frames: int = 0  # frames sent by hostile connections, valid and malformed
    hostile_connections: int = 0
    protocol_errors_seen: int = 0
    valid_replies: int = 0
    lost: list = field(default_factory=list)  # valid connections: what went wrong
    bad_errors: list = field(default_factory=list)  # malformed frames not answered as such
    resets: int = 0  # malformed frames answered by a RST instead of the error reply
    baseline: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self):
        return (
            f"seed={self.seed} hostile frames={self.frames} connections={self.hostile_connections} "
            f"protocol errors answered={self.protocol_errors_seen} resets={self.resets} "
            f"valid replies={self.valid_replies} lost={len(self.lost)} bad error replies={len(self.bad_errors)} "
            f"threads {self.baseline.get('threads')}->{self.after.get('threads')} "
            f"fds {self.baseline.get('fds')}->{self.after.get('fds')} in {self.seconds:.1f}s"
        )


class Fuzzer:
    def __init__(self, server, *, protocol="resp", seed, frames, seconds, connections, valid):
        self.server, self.seed, self.frames = server, seed, FRAMES[protocol]
        self.frames_limit, self.connections, self.valid = frames, connections, valid
        self.deadline = time.monotonic() + seconds
        self.report = Report(seed)
        self.lock = threading.Lock()
        self.hostile_done = threading.Event()

    def _take_frames(self, n):
        """Reserve `n` frames of the budget; False once it or the time is spent."""
        with self.lock:
            if self.report.frames >= self.frames_limit or time.monotonic() >= self.deadline:
                return False
            self.report.frames += n
            self.report.hostile_connections += 1
            return True

    def _record(self, attr, value):
        with self.lock:
            if isinstance(getattr(self.report, attr), list):
                getattr(self.report, attr).append(value)
            else:
                setattr(self.report, attr, getattr(self.report, attr) + value)

    def hostile(self, rng):
        frames = self.frames
        while True:
            prefix = [frames.valid(rng, b"h") for _ in range(rng.randrange(4))]
            mode = rng.choice(("malformed", "malformed", "garbage", "abort", "flood"))
            if mode == "flood":  # replies the server is still writing when the RST comes
                prefix = [(frames.flood(rng), None) for _ in range(rng.randrange(8, 32))]
            if not self._take_frames(len(prefix) + 1):
                return
            sent = b"".join(req for req, _ in prefix)
            try:
                sock = self.server.connect(timeout=IO_TIMEOUT)
            except OSError as exc:
                self._record("bad_errors", f"connect failed: {exc!r}")
                continue
            try:
                if mode == "malformed":
                    self._malformed(sock, sent, [reply for _, reply in prefix], *frames.malformed(rng))
                elif mode == "flood":  # at most 128 KiB: loopback buffers take it even if the server stops reading
                    sock.settimeout(2)
                    sock.sendall(sent)
                    abort(sock)
                    sock = None
                elif mode == "garbage":
                    sock.sendall(sent + frames.garbage(rng))
                    sock.shutdown(socket.SHUT_WR)  # the server sees EOF and must let go
                    read_until_closed(sock, time.monotonic() + IO_TIMEOUT)
                else:  # cut a valid or malformed frame short, then RST
                    frame = frames.cut(rng)
                    sock.sendall(sent + frame[: rng.randrange(len(frame) + 1)])
                    abort(sock)
                    sock = None
            except OSError:
                pass  # the server may drop a hostile client any way it likes
            finally:
                if sock is not None:
                    sock.close()

    def _malformed(self, sock, sent, replies, frame, status):
        """`status`: the refusal's HTTP status (None for RESP: its one error line)."""
        sock.sendall(sent + frame)
        try:
            got, closed = read_until_closed(sock, time.monotonic() + IO_TIMEOUT)
        except ConnectionResetError:
            self._record("resets", 1)
            return
        if closed and self.frames.refused_after(got, replies, status):
            self._record("protocol_errors_seen", 1)
        else:
            self._record("bad_errors", f"frame {frame[:60]!r}: got {got[-80:]!r} closed={closed}")

    def well_behaved(self, rng, index):
        """One connection pipelining valid requests until the hostile ones are done."""
        tag = b"v%d" % index
        try:
            sock = self.server.connect(timeout=IO_TIMEOUT)
        except OSError as exc:
            self._record("lost", f"valid {index}: connect failed: {exc!r}")
            return
        with sock:
            while not self.hostile_done.is_set():
                batch = [self.frames.valid(rng, tag) for _ in range(rng.randrange(1, 16))]
                expected = self.frames.expected([reply for _, reply in batch])
                try:
                    send_split(sock, rng, b"".join(req for req, _ in batch))
                    got = self.frames.read_replies(sock, expected)
                except (OSError, AssertionError) as exc:
                    self._record("lost", f"valid {index}: {exc!r}")
                    return
                if got != expected:
                    self._record("lost", f"valid {index}: expected {str(expected)[:160]}, got {str(got)[:160]}")
                    return
                self._record("valid_replies", len(batch))

    def run(self):
        start = time.monotonic()
        rng = random.Random(self.seed)
        # Steady first: a 64-thread server answers before its last threads have started.
        self.report.baseline = resources(self.server, steady(self.server))
        hostile = [threading.Thread(target=self.hostile, args=(random.Random(rng.random()),)) for _ in range(self.connections)]
        valid = [threading.Thread(target=self.well_behaved, args=(random.Random(rng.random()), i)) for i in range(self.valid)]
        for thread in valid + hostile:
            thread.start()
        for thread in hostile:
            thread.join()
        self.hostile_done.set()
        for thread in valid:
            thread.join()
        self.report.seconds = time.monotonic() - start
        return self.report


def settled(server, baseline, timeout=30):
    """Poll until threads and fds are back to `baseline` (connections close
    asynchronously); return the last counts, settled or not."""
    deadline = time.monotonic() + timeout
    while True:
        now = resources(server)
        if now["threads"] <= baseline["threads"] and now["fds"] <= baseline["fds"]:
            return now, True
        if time.monotonic() >= deadline:
            return now, False
        time.sleep(0.2)


def still_answers(server, protocol="resp"):
    frames = FRAMES[protocol]
    with server.connect(timeout=IO_TIMEOUT) as sock:
        sock.sendall(frames.PING)
        got = b""
        while not frames.pong(got) and len(got) < 1024 and (chunk := sock.recv(1024)):
            got += chunk
        return frames.pong(got)


def fuzz(server, *, protocol="resp", seed=None, frames=2000, seconds=8.0, connections=16, valid=4):
    """Run the fuzzer against `server`, which speaks `protocol`; return (report, settled, answers)."""
    seed = random.randrange(2**32) if seed is None else seed
    print(f"fuzz seed={seed} (FUZZ_SEED={seed} replays it)", flush=True)
    report = Fuzzer(server, protocol=protocol, seed=seed, frames=frames, seconds=seconds, connections=connections, valid=valid).run()
    report.after, ok = settled(server, report.baseline)
    return report, ok, still_answers(server, protocol)


def server_log(server, lines=30):
    stdout, stderr = server.container.get_logs()
    return "\n".join(b"".join((stdout or b"", stderr or b"")).decode(errors="replace").splitlines()[-lines:])


def main():
    from conftest import CONFIGS, run_server

    arch = os.environ.get("ARCH") or "all"
    names = list(CONFIGS) if arch == "all" else [n for n in CONFIGS if n == arch or CONFIGS[n][0] == arch]
    if not names:
        sys.exit(f"fuzz: unknown ARCH {arch!r}; one of: all, {', '.join(CONFIGS)}")
    python = os.environ.get("PYTHON") or "3.13"
    protocol = os.environ.get("PROTOCOL") or "resp"
    if protocol not in FRAMES:
        sys.exit(f"fuzz: unknown PROTOCOL {protocol!r}; one of: {', '.join(FRAMES)}")
    runs = int(os.environ.get("FUZZ_RUNS", 1))
    first = int(os.environ["FUZZ_SEED"]) if os.environ.get("FUZZ_SEED") else None
    options = dict(
        frames=int(os.environ.get("FUZZ_FRAMES", 20000)),
        seconds=float(os.environ.get("FUZZ_SECONDS", 60)),
        connections=int(os.environ.get("FUZZ_CONNECTIONS", 32)),
        valid=int(os.environ.get("FUZZ_VALID", 8)),
    )
    failed = []
    for name in names:
        arch_name, env = CONFIGS[name]
        # One server for all the runs: what a run leaks, the next run's baseline shows.
        with run_server(arch_name, python=python, docker={"healthcheck": {"test": ["NONE"]}}, **env, **FRAMES[protocol].LIMITS) as server:
            for run in range(runs):
                seed = first if first is not None and run == 0 else random.randrange(2**32)
                try:
                    report, ok, answers = fuzz(server, protocol=protocol, seed=seed, **options)
                except Exception:
                    print(f"{name} {python} seed {seed} raised; the server's log ends:\n{server_log(server)}", flush=True)
                    raise
                verdict = "ok" if ok and answers and not report.lost and not report.bad_errors else "FAIL"
                print(f"{name:32} {python:5} {protocol} run {run + 1}/{runs} {verdict:4} {report.summary()} settled={ok} answers={answers}", flush=True)
                for problem in (report.lost + report.bad_errors)[:10]:
                    print(f"    {problem}")
                if verdict != "ok":
                    print(f"    the server's log ends:\n{server_log(server)}")
                    failed.append(f"{name} (seed {seed})")
                    break
    if failed:
        sys.exit(f"fuzz: FAILED on {', '.join(failed)} (Python {python}, {protocol})")
    print(f"fuzz: {len(names)} mode(s) x {runs} run(s) on Python {python}, {protocol}: all ok")


if __name__ == "__main__":
    main()
