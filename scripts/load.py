"""`make load`: a headless load test through the stack's own Locust master and workers.

It drives the web UI's API (POST /swarm with a run time, then waits for the test to
stop), so the load comes from every worker on LOADGEN_CPUS and Prometheus scrapes them
as for a test started in the browser; the dashboards show a headless run like any
other. At the end it prints the master's summary (latencies in ms, the open-loop
schedule, the load generator's CPU verdict) and writes the CSV files.

    python scripts/load.py --url http://127.0.0.1:8089 --host tcp://hybrid:7000 \\
        --users 50 --duration 60s [--rate 5000] [--protocol http] [--pipeline 16 --mix PING:1,WORK:1 ...]

Without --protocol the master's default holds: the PROTOCOL the stack was started with.
"""

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "loadgen"))
from connlab_loadgen import options  # noqa: E402


class Recorded:
    """Stands in for Locust's parser: the custom parameters' names and types."""

    def __init__(self):
        self.known, self.choices = {}, {}

    def add_argument(self, flag, type=str, choices=None, **_):
        self.known[flag] = type
        self.choices[flag] = choices


def custom_parameters(words):
    """--pipeline 16 --mix PING:1 ... -> {"pipeline": "16", "mix": "PING:1"}, checked."""
    recorded = Recorded()
    options.add_arguments(recorded)
    parameters = {}
    while words:
        flag, *rest = words
        if flag not in recorded.known or not rest:
            sys.exit(f"connlab: LOAD_ARGS: {flag!r} is not a parameter with a value; known: {', '.join(recorded.known)}")
        value, words = rest[0], rest[1:]
        try:
            recorded.known[flag](value)
        except ValueError:
            sys.exit(f"connlab: LOAD_ARGS: {flag} {value!r} is not a {recorded.known[flag].__name__}")
        if recorded.choices[flag] and value not in recorded.choices[flag]:
            sys.exit(f"connlab: {flag} {value!r} is not one of {', '.join(recorded.choices[flag])}")
        parameters[flag[2:].replace("-", "_")] = value
    return parameters


def call(url, path, form=None, timeout=10):
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    with urllib.request.urlopen(urllib.request.Request(url + path, data=data), timeout=timeout) as response:
        return response.read()


def state(url):
    return json.loads(call(url, "/stats/requests"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8089", help="the Locust master's web UI")
    parser.add_argument("--host", required=True, help="tcp://<arch>:7000, as the workers reach the server")
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--spawn-rate", type=float)
    parser.add_argument("--duration", default="30s", help="Locust's run time: 30s, 2m, 1h30m")
    parser.add_argument("--rate", default="0", help="requests/s over all users (open loop); 0 = closed loop")
    parser.add_argument("--results", default="results/load", help="where the CSV files and the report go")
    parser.add_argument("--name", default="load", help="file name prefix (a UTC time is added)")
    args, rest = parser.parse_known_args()
    form = {
        "user_count": args.users, "spawn_rate": args.spawn_rate or args.users, "host": args.host,
        "run_time": args.duration, "rate": args.rate, **custom_parameters(rest),
    }  # fmt: skip

    try:
        before = state(args.url)
    except (urllib.error.URLError, OSError) as exc:
        sys.exit(f"connlab: the Locust master does not answer at {args.url} ({exc}); start the stack: make up ARCH=...")
    if before["state"] in ("spawning", "running"):
        sys.exit(f"connlab: a load test is already running in the web UI at {args.url}; stop it there first")
    started = json.loads(call(args.url, "/swarm", form))
    if not started.get("success"):
        sys.exit(f"connlab: the Locust master refused the test: {started.get('message')}")
    protocol = form.get("protocol") or "the stack's protocol"
    print(f"connlab: headless load on {args.host} ({protocol}): {args.users} users, {args.duration}, rate {args.rate} "
          f"(0 = closed loop), {before.get('worker_count') or 1} load process(es); web UI {args.url}")
    try:
        finished = wait_for_the_end(args.url)
    except KeyboardInterrupt:
        call(args.url, "/stop", {})
        sys.exit("connlab: interrupted; the load test was stopped")

    print(call(args.url, "/connlab/summary").decode(), end="")
    prefix = Path(args.results) / f"{args.name}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    prefix.parent.mkdir(parents=True, exist_ok=True)
    for name, path in (("stats.csv", "/stats/requests/csv"), ("failures.csv", "/stats/failures/csv"),
                       ("latency_ms.csv", "/connlab/latency.csv"), ("history.csv", "/connlab/history.csv"),
                       ("report.html", "/stats/report?download=1")):
        Path(f"{prefix}_{name}").write_bytes(call(args.url, path, timeout=60))
    print(f"connlab: CSV files: {prefix}_stats.csv, {prefix}_failures.csv, {prefix}_latency_ms.csv, "
          f"{prefix}_history.csv (every few seconds); Locust's report: {prefix}_report.html")
    failures = sum(row["num_failures"] for row in finished["stats"] if row["name"] == "Aggregated")
    if failures:
        sys.exit(f"connlab: {failures} requests failed (see the failure rows above and {prefix}_failures.csv)")


def wait_for_the_end(url):
    """Poll until the master has stopped the test; print progress every few seconds."""
    shown = time.monotonic()
    while True:
        time.sleep(1)
        now = state(url)
        if now["state"] == "stopped":
            return now
        if time.monotonic() - shown >= 5:
            shown = time.monotonic()
            print(f"  {now['state']}: {now['user_count']} users, {now['total_rps']:.0f} req/s, "
                  f"{now['fail_ratio'] * 100:.2f}% failed", flush=True)


if __name__ == "__main__":
    main()
