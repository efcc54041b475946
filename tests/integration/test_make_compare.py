"""make compare for real, short: one scenario, two architectures, QUICK (two
repetitions). The results must validate against the schema, every point must carry its
figures, and the report must hold the verdict and the figures. A run stopped half way
must leave a partial report, and resuming it must measure only what is missing. The run
is scraped by a Prometheus of its own (no stack runs under this test's project name),
whose data, read back afterwards, holds the run's series by their labels."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import jsonschema
import pytest
from testcontainers.core.container import DockerContainer

from compose_util import ROOT
from conftest import SERVER_CPUS, TAG, wait_until
from connlab_compare import noise, report, runner
from loadgen_lab import LOADGEN_CPUS
from observe_stack import PROMETHEUS_IMAGE, Prometheus

pytestmark = pytest.mark.integration
ARCHS = ["single-thread", "message-balancing"]
PROJECT = f"connlab-test-{uuid.uuid4().hex[:8]}"  # a compose project with no stack up
VOLUME = f"{PROJECT}_prometheus-data"  # where the run's own Prometheus keeps what it scraped


@pytest.fixture(scope="module")
def run(docker_client, tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    env = {**os.environ, "LOCUST_SKIP_MONKEY_PATCH": "1", "PYTHONPATH": "services:loadgen:experiments",
           "COMPOSE_PROJECT_NAME": PROJECT}  # fmt: skip
    try:
        yield from _run(env, out)
    finally:
        for volume in docker_client.volumes.list(filters={"name": VOLUME}):
            volume.remove()


def _run(env, out):
    result = subprocess.run(
        [sys.executable, "-m", "connlab_compare", "--scenarios", "head-of-line", "--targets", ",".join(ARCHS),
         "--quick", "--budget", "0", "--set", "WORKER_NICE=5", "--server-cpus", SERVER_CPUS, "--loadgen-cpus", LOADGEN_CPUS,
         "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    (folder,) = [path for path in out.iterdir() if path.is_dir()]  # beside it: index.html, the list of runs
    yield folder, result.stdout + result.stderr


def test_prometheus_kept_the_run_by_its_labels(run):
    """The done-when of the run's scraping: Prometheus answers connlab_requests_total
    for run=<stamp>, by scenario, target, build and protocol, and the load generator's series too.
    Read from the data the run's own Prometheus left (what `make up` would show next)."""
    folder, output = run
    assert f'run="{folder.name}"' in output  # the runner said which Prometheus scrapes it
    with DockerContainer(PROMETHEUS_IMAGE).with_exposed_ports(9090).with_volume_mapping(VOLUME, "/prometheus", "rw") as container:
        prometheus = Prometheus(f"http://{container.get_container_host_ip()}:{container.get_exposed_port(9090)}")
        wait_until(lambda: prometheus.api("status/buildinfo"), 60, "Prometheus to answer on the run's data")
        # count_over_time: the series went stale when the run removed its targets
        served = prometheus.query(f'count by (scenario, target, build, arch, protocol) '
                                  f'(count_over_time(connlab_requests_total{{run="{folder.name}"}}[6h]))')  # fmt: skip
        assert {tuple(sorted(s["metric"].items())) for s in served} == {
            (("arch", arch), ("build", "3.13"), ("protocol", "resp"), ("scenario", "head-of-line"), ("target", arch))
            for arch in ARCHS}  # fmt: skip
        sent = prometheus.query(f'sum by (target) (count_over_time(connlab_loadgen_requests_total{{run="{folder.name}"}}[6h]))')
        assert {s["metric"]["target"] for s in sent} == set(ARCHS)


def test_results_validate_and_hold_every_point(run):
    folder, _ = run
    results = json.loads((folder / "results.json").read_text())
    jsonschema.validate(results, report.schema())
    points = results["points"]
    steps = ["PING 1000/s with SLEEP 50ms", "PING 1000/s with WORK 5ms"]
    assert sorted((p["target"], p["step"], p["repeat"]) for p in points) == sorted(
        (a, s, r) for a in ARCHS for s in steps for r in (1, 2))  # QUICK: two repetitions
    for point in points:
        figures = point["metrics"]
        assert point["scenario"] == "head-of-line" and point["client"] == "locust"
        assert sum(figures["histogram"].values()) >= figures["requests"]  # every measured request, failed ones too
        # Percentiles come from two-digit buckets, the maximum is exact.
        assert figures["rps"] > 0 and figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"] * 1.05 + 0.01
        assert 0 < figures["loadgen_cpu"] and figures["loadgen_bound"] == (figures["loadgen_cpu"] >= 90)
        # The machine's noise over the point: the server's own CPU from its cgroup, the rest from /proc/stat
        assert 0 < figures["server_cpu"] <= 1.05 and 0 <= figures["steal_share"] <= figures["noise"] <= 1
        assert 1.9 <= figures["window_s"] <= 2.5 and abs(figures["started_at"] - time.time()) < 900  # the measurement: 2 s
        # head-of-line traces the server's threads beside WORK (schedstat.py), by role
        roles = {"single-thread": {"event loops": 1}, "message-balancing": {"I/O thread": 1, "workers": 4}}[point["target"]]
        if point["step"] == steps[1]:
            assert {role: figures["threads"][role]["threads"] for role in roles} == roles
            assert all(figures["threads"][role]["cpu_ms"] > 0 for role in roles)
            assert figures["threads"].get("workers", {"nice": 5})["nice"] == 5  # --set WORKER_NICE=5 reached them
        else:
            assert "threads" not in figures
    machine = results["machine"]
    assert [r["when"] for r in machine["calibration"]] == ["start", "end"]
    assert all(r["rps"] > 1000 and len(r["readings"]) == runner.CALIBRATION_READINGS for r in machine["calibration"])
    assert machine["server_cpus"] == SERVER_CPUS and machine["python_versions"]["3.13"].startswith("Python 3.13")
    assert machine["scenario_hashes"].keys() == {"head-of-line"} and len(machine["commit"] or "x" * 40) == 40
    pinned = dict(line.split("==") for line in (ROOT / "loadgen/requirements.txt").read_text().split() if "==" in line)
    assert machine["packages"][f"connlab/loadgen:{TAG}"]["locust"] == pinned["locust"]
    assert (folder / "points.csv").read_text().count("\n") == len(points) + 1 and (folder.parent / "index.html").exists()
    assert machine["settings"] == {"WORKER_NICE": "5"} and "Every server ran with WORKER_NICE=5." in (folder / "report.md").read_text()
    assert len(results["verdicts"]) == 2 and results["partial"] is None  # one per prediction in head-of-line.toml
    for verdict in results["verdicts"]:
        assert verdict["verdict"] in ("yes", "no", "inconclusive", "not comparable")
        assert "message-balancing" in verdict["measured"] and verdict["rounds"] in (0, 2)


def test_report_shows_the_verdict_and_the_figures(run):
    folder, output = run
    assert "report in" in output and "head-of-line" in output  # the progress line named what it ran
    markdown = (folder / "report.md").read_text()
    assert "What the literature predicts" in markdown and "Homa" in markdown
    assert "Calibration (redis-benchmark" in markdown and "start " in markdown and "end " in markdown
    assert "![" in markdown and (folder / "head-of-line.png").stat().st_size > 10_000
    assert "data:image/png;base64," in (folder / "index.html").read_text()


def test_redraw_rebuilds_the_report_from_results_json(run, tmp_path):
    folder, _ = run
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "results.json").write_text((folder / "results.json").read_text())
    env = {**os.environ, "PYTHONPATH": "services:loadgen:experiments"}
    subprocess.run([sys.executable, "-m", "connlab_compare", "--redraw", str(copy)], cwd=ROOT, env=env, check=True)
    assert (copy / "report.md").read_text() == (folder / "report.md").read_text()
    assert (copy / "head-of-line.png").stat().st_size > 10_000


def test_a_stopped_run_draws_partial_and_resumes(docker_client, tmp_path):
    """Stopped (SIGTERM, as Ctrl-C) once the first two scenarios are measured: the report
    is drawn, marked partial; RESUME measures the third only and draws the whole."""
    env = {**os.environ, "LOCUST_SKIP_MONKEY_PATCH": "1", "PYTHONPATH": "services:loadgen:experiments"}
    command = [sys.executable, "-m", "connlab_compare", "--targets", "single-thread", "--repeat", "1", "--quick", "--budget", "0",
               "--server-cpus", SERVER_CPUS, "--loadgen-cpus", LOADGEN_CPUS, "--out", str(tmp_path), "--prometheus", "off"]  # fmt: skip
    process = subprocess.Popen([*command, "--scenarios", "spread,blocked-worker,cpu-bound"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    deadline = time.monotonic() + 300
    journal = None
    while time.monotonic() < deadline and process.poll() is None:
        journal = next(tmp_path.glob("*/points.jsonl"), None)
        if journal and {json.loads(line)["scenario"] for line in journal.read_text().splitlines()} >= {"spread", "blocked-worker"}:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=120)[0]
    assert process.returncode != 0 and "RESUME=" in output, output
    folder = journal.parent
    results = json.loads((folder / "results.json").read_text())
    assert "not measured" in results["partial"] and "PARTIAL REPORT" in (folder / "report.md").read_text()
    assert {p["scenario"] for p in results["points"]} >= {"spread", "blocked-worker"}  # and cpu-bound's, if any
    measured = lambda points: [(p["scenario"], p["step"], p["client"], p["metrics"]["rps"]) for p in points  # noqa: E731
                               if p["scenario"] != "cpu-bound"]  # fmt: skip
    kept = measured(json.loads(line) for line in (folder / "points.jsonl").read_text().splitlines())

    resumed = subprocess.run([*command[:3], "--resume", str(folder), "--prometheus", "off"], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=300)  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    results = json.loads((folder / "results.json").read_text())
    jsonschema.validate(results, report.schema())
    assert results["partial"] is None and {p["scenario"] for p in results["points"]} == {"spread", "blocked-worker", "cpu-bound"}
    # What was measured before was kept, not measured again.
    assert measured(results["points"]) == kept
    assert {p["client"] for p in results["points"] if p["scenario"] == "cpu-bound"} == {"locust", "redis-benchmark"}


def test_a_noisy_neighbour_on_the_server_cpu_is_measured_again_and_marked(docker_client, tmp_path):
    """A CPU burner on the server's CPU for the whole run: every point loses far more than
    noise.OTHERS of its CPU to it, so each is measured again, stays noisy, and is marked and
    left out of the verdicts; the report lists them and the calibration shows it."""
    burner = docker_client.containers.run(
        f"connlab/redis:{TAG}", ["sh", "-c", "while :; do :; done"], detach=True, remove=True,
        cpuset_cpus=SERVER_CPUS.split(",")[0].split("-")[0], name=f"connlab-test-burner-{uuid.uuid4().hex[:8]}")  # fmt: skip
    try:
        env = {**os.environ, "LOCUST_SKIP_MONKEY_PATCH": "1", "PYTHONPATH": "services:loadgen:experiments"}
        result = subprocess.run(
            [sys.executable, "-m", "connlab_compare", "--scenarios", "throughput", "--targets", "single-thread", "--repeat",
             "1", "--quick", "--budget", "0", "--server-cpus", SERVER_CPUS, "--loadgen-cpus", LOADGEN_CPUS,
             "--out", str(tmp_path), "--prometheus", "off"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    finally:
        burner.kill()
    assert result.returncode == 0, result.stdout + result.stderr
    (folder,) = [path for path in tmp_path.iterdir() if path.is_dir()]
    results = json.loads((folder / "results.json").read_text())
    points = results["points"]
    assert len(points) == 6  # three steps, each by Locust and by redis-benchmark
    for point in points:
        figures = point["metrics"]
        assert figures["noisy"] and figures["others_share"] > noise.OTHERS and figures["remeasured_from_noise"] > noise.OTHERS, point
    assert all(r["noise"] > noise.OTHERS for r in results["machine"]["calibration"])
    assert all(v["verdict"] == "not comparable" for v in results["verdicts"])
    markdown = (folder / "report.md").read_text()
    assert markdown.count("still noisy: not compared") == 6 and "measuring PING @ 64 users again" in result.stderr


def test_a_run_in_resp_and_http_speaks_each_to_the_server_and_to_its_c_client(tmp_path):
    """PROTOCOLS=resp,http, one short scenario on one design and redis-server: each step
    in both protocols, served without an error, measured by Locust and by the protocol's
    C client (redis-benchmark, wrk); redis-server in RESP alone, and the report says so."""
    env = {**os.environ, "LOCUST_SKIP_MONKEY_PATCH": "1", "PYTHONPATH": "services:loadgen:experiments"}
    result = subprocess.run(
        [sys.executable, "-m", "connlab_compare", "--scenarios", "cpu-bound", "--targets", "single-thread,redis",
         "--protocols", "resp,http", "--repeat", "1", "--quick", "--budget", "0", "--server-cpus", SERVER_CPUS,
         "--loadgen-cpus", LOADGEN_CPUS, "--out", str(tmp_path), "--prometheus", "off"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    (folder,) = [path for path in tmp_path.iterdir() if path.is_dir()]
    results = json.loads((folder / "results.json").read_text())
    jsonschema.validate(results, report.schema())
    clients = {(p["protocol"], p["client"]) for p in results["points"]}
    assert clients == {("resp", "locust"), ("resp", "redis-benchmark"), ("http", "locust"), ("http", "wrk")}
    for point in results["points"]:
        assert point["target"] == "single-thread" and point["metrics"]["errors"] == 0, point  # WORK: none on redis
        assert point["metrics"]["rps"] > 0 and point["metrics"]["requests"] > 0, point
    assert results["not_run"] == [{"scenario": None, "protocol": "http", "target": "redis", "reason": "it speaks resp only"}]
    assert {v["protocol"] for v in results["verdicts"]} == {"resp", "http"}
    markdown = (folder / "report.md").read_text()
    assert "| step | client | architecture | build | protocol |" in markdown and "redis in http (it speaks resp only)" in markdown
    assert (folder / "cpu-bound-http.png").stat().st_size > 10_000 and "protocol" in (folder / "points.csv").read_text()
