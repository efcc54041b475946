"""The experiments' load generator: Locust as a library, with connlab's own user, in the
load generator image, driven step by step by `make compare` (experiments/).

    docker run -i --entrypoint python connlab/loadgen -m connlab_loadgen.agent

It reads one JSON request a line on stdin and answers each with one line on stdout,
prefixed with `@@connlab-agent@@` (anything else on stdout is not an answer):

- {"step": {...}}: run one measurement, then stop every user. The step names the host,
  a warm-up and a duration in seconds, and groups of users, each with its own
  parameters (those of the web UI: users, mix, rate, connection_mode, pipeline, ...).
  After the warm-up, statistics start from zero; at the end the answer carries each
  request name's Locust statistics (StatsEntry.serialize), this process's CPU over the
  measurement, the open-loop schedule, and, when asked, a /metrics or INFO text taken
  before and after.
- {"probe": "tcp://host:port", "command": ["INFO", "memory"]}: one command's raw reply
  (its bytes as they came), in RESP, or in the request's "protocol" ("http": INFO).

Like the locustfile's processes, it serves its connlab_loadgen_* metrics on
LOADGEN_METRICS_PORT (9646; 0: none), for the Prometheus that scrapes the run.
"""

import copy
import json
import sys
import time
from argparse import Namespace

import gevent
import psutil
from gevent import socket
from gevent.fileobject import FileObjectPosix
from locust.env import Environment

from . import AGENT_MARK, PHASE_MARK, exposition, metrics, precision, protocols, schedule
from .recorder import Recorder
from .users import ConnlabUser, parse_host

DEFAULTS = dict(mix="PING:1", echo_bytes=16, work_us=100, sleep_ms=10, connection_mode="persistent",
                idle_interval=10.0, pipeline=1, rate=0.0, request_timeout=5.0, dialect="connlab",
                protocol="resp")  # fmt: skip


def user_class(host, index, group):
    """A ConnlabUser subclass with this group's parameters and fixed number of users."""
    options = Namespace(**{**DEFAULTS, **group.get("parameters", {}), "num_users": group["users"]})
    return type(f"Group{index}", (ConnlabUser,), {"host": host, "options": options, "fixed_count": group["users"]})


def run_step(step):
    groups = [group for group in step["groups"] if group["users"] > 0]
    environment = Environment(user_classes=[user_class(step["host"], i, g) for i, g in enumerate(groups)],
                              host=step["host"], parsed_options=Namespace(**DEFAULTS, num_users=0))
    environment.events.request.add_listener(metrics.on_request)  # failures, as in the locustfile
    runner = environment.create_local_runner()
    process = psutil.Process()
    texts = {}
    try:
        total = sum(group["users"] for group in groups)
        if total:
            runner.start(total, spawn_rate=step.get("spawn_rate", 1000))
            runner.spawning_greenlet.join()
            if runner.user_count != total:
                raise RuntimeError(f"{runner.user_count} of {total} users started (see the load generator's log)")
        gevent.sleep(step["warmup"])
        Recorder.of(environment).flush()
        environment.stats.reset_all()
        schedule.COUNTS.take()
        texts["before"] = fetch(step.get("scrape"))
        print(PHASE_MARK, "measuring", flush=True)
        cpu, started = process.cpu_times(), time.monotonic()
        gevent.sleep(step["duration"])
        print(PHASE_MARK, "measured", flush=True)
        Recorder.of(environment).flush()
        wall = time.monotonic() - started
        used = process.cpu_times()
        texts["after"] = fetch(step.get("scrape"))
        sent, late = schedule.COUNTS.take()
        # serialize() shares the entry's live dicts: copy them, or what users record
        # while they stop below would slip into these figures.
        entries = {entry.name: copy.deepcopy(entry.serialize()) for entry in environment.stats.entries.values()}
        return {
            "entries": entries,
            "errors": [error.to_dict() for error in environment.stats.errors.values()],
            "seconds": wall,
            "cpu_percent": 100 * (used.user + used.system - cpu.user - cpu.system) / wall,
            "schedule": {"sent": sent, "late": late},
            "users": runner.user_count,
            "metrics": texts,
        }
    finally:
        runner.quit()


def fetch(source):
    """/metrics (an http:// URL) or a RESP command's reply (tcp://host:port COMMAND ...)."""
    if not source:
        return None
    if source.startswith("http"):
        return exposition.fetch(source)
    address, *command = source.split()
    return probe(address, command)


def probe(address, command, timeout=5.0, protocol="resp"):
    """The raw reply to one command (for INFO: a bulk string's text, or an HTTP response)."""
    codec, (host, port) = protocols.codec(protocol), parse_host(address)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(codec.request(command, f"{host}:{port}"))
        decoder, reply = codec.Decoder(), b""
        while chunk := sock.recv(65536):
            reply += chunk
            if decoder.decode(chunk):  # the raw bytes are the answer; the decoder says where they end
                break
    return reply.decode(errors="replace")


def answer(request):
    if "probe" in request:
        return {"reply": probe(request["probe"], request["command"], protocol=request.get("protocol", "resp"))}
    return run_step(request["step"])


def main():
    precision.install()
    metrics.start_exporter()  # connlab_loadgen_* for Prometheus, while make compare runs (scrape.py)
    # Read requests cooperatively: a plain read of stdin would block gevent's hub, and with
    # it the exporter, between steps.
    for line in FileObjectPosix(sys.stdin.fileno(), "r", close=False):
        if not line.strip():
            continue
        try:
            reply = answer(json.loads(line))
        except Exception as exc:  # said to the runner, which stops with it
            reply = {"failed": f"{type(exc).__name__}: {exc}"}
        print(AGENT_MARK, json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
