"""make compare in several protocols (PROTOCOLS=): the plan (protocol × target ×
scenario, and what a protocol leaves out), the protocol of every point (points.csv, the
report's tables, Prometheus's labels), verdicts judged per protocol and where they
differ, and the C client picked by the protocol. The test-only protocol `lines`
(conftest.py) stands for a second protocol beside RESP."""

import csv
import sys
import types

import jsonschema
import pytest
from connlab_compare import exports, journal, reference_client, report, runner, scrape, speaking, verdict
from connlab_compare.clients import RedisBenchmark
from connlab_compare.journal import Cell
from connlab_loadgen import protocols as codecs
from test_experiments import constructed_results, point


@pytest.fixture
def lines_codec(lines_protocol, monkeypatch):
    """The test-only protocol `lines` on both sides: the server's module (conftest.py)
    and a load generator codec for it (connlab_loadgen/protocols.py), which has a request
    for the commands in its COMMANDS (a test may take some away)."""

    def request(args, host=None, close=False):
        if str(args[0]) not in codec.COMMANDS:
            raise ValueError(f"lines has no request for {args[0]!r}")
        return b" ".join(a if isinstance(a, bytes) else str(a).encode() for a in args) + b"\n"

    codec = types.SimpleNamespace(NAME="lines", COMMANDS=["PING", "ECHO", "SLEEP", "WORK", "INFO"], request=request)
    monkeypatch.setitem(codecs.CODECS, "lines", codec)
    return codec


def test_the_plan_runs_each_scenario_in_each_protocol_on_the_targets_that_speak_it(lines_codec):
    chosen, cells = runner.plan(["throughput", "cpu-bound"], ["single-thread", "redis"], ["3.13"], 1, True,
                                ["resp", "lines"])  # fmt: skip
    assert {(c.scenario, c.target, c.protocol) for c in cells} == {
        ("throughput", "single-thread", "resp"), ("throughput", "redis", "resp"), ("cpu-bound", "single-thread", "resp"),
        ("throughput", "single-thread", "lines"), ("cpu-bound", "single-thread", "lines"),
    }  # redis speaks RESP alone (its reference.toml); it has no WORK (cpu-bound) in any protocol  # fmt: skip
    assert runner.not_run(chosen, ["single-thread", "redis"], ["resp", "lines"]) == [
        {"scenario": None, "protocol": "lines", "target": "redis", "reason": "it speaks resp only"}]
    # RESP alone, the default, plans what it always did.
    assert runner.plan(["throughput"], ["single-thread"], ["3.13"], 1, True)[1] == [Cell(1, "throughput", "single-thread", "3.13")]


def test_a_scenario_a_protocol_cannot_say_is_left_out_with_its_reason(lines_codec):
    lines_codec.COMMANDS = ["PING", "ECHO"]  # no request for WORK
    chosen, cells = runner.plan(["throughput", "cpu-bound"], ["single-thread"], ["3.13"], 1, True, ["resp", "lines"])
    assert {(c.scenario, c.protocol) for c in cells} == {("throughput", "resp"), ("cpu-bound", "resp"), ("throughput", "lines")}
    (left,) = runner.not_run(chosen, ["single-thread"], ["resp", "lines"])
    assert left == {"scenario": "cpu-bound", "protocol": "lines", "target": None,
                    "reason": "step 'WORK 200us': the load generator cannot say it in lines: lines has no "
                              "request for 'WORK'"}  # fmt: skip
    # A step a protocol cannot say is left out of that protocol alone.
    lines_codec.COMMANDS = ["PING"]
    throughput = chosen[0]
    assert not any("ECHO" in step.label for step, _ in runner.steps_of(throughput, "single-thread", "lines"))
    assert any("ECHO" in step.label for step, _ in runner.steps_of(throughput, "single-thread", "resp"))


def test_a_scenario_file_may_restrict_its_protocols(tmp_path):
    from connlab_compare import scenarios

    body = 'title = "t"\ndescription = "d"\nlook_for = "l"\nmeasure = ["PING"]\nheadline = "rps"\n[[steps]]\nlabel = "x"\n'
    (tmp_path / "only.toml").write_text('protocols = ["resp"]\n' + body)
    (tmp_path / "bad.toml").write_text('protocols = "resp"\n' + body)
    only = scenarios.load_all(["only"], directory=tmp_path)[0]
    assert only.protocols == ("resp",) and speaking.unsaid(only, "http") == "its file restricts it to resp"
    with pytest.raises(scenarios.ScenarioError, match="protocols is a list"):
        scenarios.load_all(["bad"], directory=tmp_path)


def test_a_bad_protocol_lists_the_servers_protocols(monkeypatch, capsys):
    from connlab_compare import __main__ as main

    monkeypatch.setattr(sys, "argv", ["connlab_compare", "--protocols", "resp,gopher"])
    with pytest.raises(SystemExit) as exit:
        main.arguments()
    assert exit.value.code == 2
    message = capsys.readouterr().err
    assert "unknown protocol(s) gopher" in message and ", ".join(speaking.known()) in message
    monkeypatch.setattr(sys, "argv", ["connlab_compare"])
    assert main.arguments().protocols == ["resp"]


def test_the_c_client_is_the_protocols(lines_codec, monkeypatch):
    assert reference_client.client("resp") is RedisBenchmark and reference_client.client("lines") is None
    throughput = runner.load_all(["throughput"], quick=True)[0]
    assert {client for _, client in runner.steps_of(throughput, "single-thread", "resp")} == {"locust", "redis-benchmark"}
    assert {client for _, client in runner.steps_of(throughput, "single-thread", "lines")} == {"locust"}  # none for it

    class LinesBench(RedisBenchmark):  # a C client for `lines`, as clients.py would hold one
        name, protocol = "lines-bench", "lines"

        @staticmethod
        def command(host, port, argv=(), *, pipeline=1, **options):
            if pipeline > 1:
                raise ValueError("lines-bench sends one request at a time")
            return ["lines-bench", host, str(port), *argv]

    monkeypatch.setitem(reference_client.BY_PROTOCOL, "lines", LinesBench)
    twins = [step.label for step, client in runner.steps_of(throughput, "single-thread", "lines") if client == "lines-bench"]
    assert twins and not any("pipeline" in label for label in twins)  # a step its command line refuses has no twin
    verdict_clients = verdict.clients("lines")
    assert verdict_clients == ("locust", "lines-bench") and verdict.clients("resp") == ("locust", "redis-benchmark")


def test_a_cell_speaks_its_protocol_to_the_server_and_the_load_generator(lines_codec, monkeypatch):
    throughput = runner.load_all(["throughput"], quick=True)[0]
    throughput.steps = throughput.steps[:1]
    started, asked = [], []

    class Lab:
        server_id, server_cpus, agents, loadgen_cpus = "server", "1", [object(), object()], [0]

        def start_server(self, target, python, settings, *rest):
            started.append(settings)
            return "tcp://target:7000"

        def snapshot(self, cpus):
            return None

    monkeypatch.setattr(runner.noise, "between", lambda *args: {"noise": 0.0})
    monkeypatch.setattr(runner.measure, "point_metrics", lambda replies, names: {"rps": 1.0})
    monkeypatch.setattr(Lab, "ask_all", lambda self, requests, on_phase=None: asked.extend(requests) or [
        {"metrics": {"before": "", "after": ""}, "seconds": 1.0}] * len(requests), raising=False)
    points = []

    class Journal:
        append = points.append

    class Quiet:
        show = note = done = lambda self, *args: None

    runner.run_cell(Lab(), Cell(1, "throughput", "single-thread", "3.13", "lines"), throughput, True, Quiet(), Journal(),
                    {"PROTOCOL": "resp", "WORKERS": "2"})  # fmt: skip
    assert started == [{"WORKERS": "2", "PROTOCOL": "lines"}]  # the cell's protocol, whatever SETTINGS say
    assert {group["parameters"]["protocol"] for request in asked for group in request["step"]["groups"]} == {"lines"}
    assert [p["protocol"] for p in points] == ["lines"]
    labels = scrape.cell_labels("run", Cell(1, "throughput", "single-thread", "3.13", "lines"))
    assert labels["protocol"] == "lines"  # the run's series in Prometheus


def two_protocols():
    """constructed_results, and throughput's pipelined step in RESP and in `lines`:
    message balancing (and hybrid) level with single-thread in RESP, a third of it in
    `lines`, so that the hand-off prediction says no in one and yes in the other."""
    results, chosen = constructed_results()
    for protocol, handoff in (("resp", 1.0), ("lines", 1 / 3)):
        for repeat in (1, 2):
            for arch, rate in (("single-thread", 30_000.0), ("message-balancing", 30_000.0 * handoff),
                               ("hybrid", 29_000.0 * handoff)):  # fmt: skip
                results["points"].append(point(arch, rate, "PING, pipeline 16 @ 64 users", 64, scenario="throughput",
                                               base="PING, pipeline 16", repeat=repeat, protocol=protocol))  # fmt: skip
    results["points"] += [{**found, "protocol": "lines"} for found in results["points"]
                          if found["protocol"] == "resp" and found["scenario"] == "head-of-line"]  # fmt: skip
    results["machine"]["protocols"] = ["resp", "lines"]
    results["not_run"] = [{"scenario": None, "protocol": "lines", "target": "redis", "reason": "it speaks resp only"}]
    return results, chosen


def test_verdicts_are_judged_per_protocol_and_the_report_says_where_they_differ(tmp_path):
    results, chosen = two_protocols()
    # Handing requests to another thread costs throughput: in throughput's last step, message-balancing behind.
    results["verdicts"] = verdict.verdicts(chosen, results["points"], ["3.13"], lambda python: {}, ["resp", "lines"])
    handoff = {row["protocol"]: row for row in results["verdicts"] if row["claim"].startswith("Handing every request")}
    assert handoff["resp"]["verdict"] == "no" and handoff["lines"]["verdict"] == "yes"
    assert handoff["lines"]["ratio"] == pytest.approx(3.0, rel=0.05)  # judged on lines' points alone
    assert len(results["verdicts"]) == 2 * len(constructed_results()[0]["verdicts"])  # each prediction in each protocol
    ((scenario, python, claim, design, found),) = verdict.changed_by_protocol(results["verdicts"])
    assert (scenario, python, claim, design) == ("throughput", "3.13", handoff["resp"]["claim"], "")
    assert set(found) == {"resp", "lines"}
    jsonschema.validate(results, report.schema())
    report.write(tmp_path, results, chosen)
    markdown = (tmp_path / "report.md").read_text()
    assert "| scenario | build | protocol | prediction |" in markdown
    assert "## Where the protocol changes a verdict" in markdown
    section = markdown.split("## Where the protocol changes a verdict")[1].split("##")[0]
    assert claim.rstrip(".") + ": resp no" in section and "resp no (" in section and "lines yes (3.05×" in section
    assert "redis in lines (it speaks resp only)" in markdown
    table = markdown.split("## Throughput")[1]
    assert "| step | client | architecture | build | protocol |" in table and "| lines |" in table
    assert {"throughput.png", "throughput-lines.png"} <= {p.name for p in tmp_path.glob("*.png")}
    with open(tmp_path / exports.CSV, newline="") as file:
        rows = list(csv.DictReader(file))
    assert {row["protocol"] for row in rows} == {"resp", "lines"}
    assert list(rows[0])[:4] == ["scenario", "target", "python", "protocol"]


def test_one_protocol_has_no_protocol_section(tmp_path):
    results, chosen = constructed_results()
    results["machine"]["protocols"] = ["resp"]
    report.write(tmp_path, results, chosen)
    markdown = (tmp_path / "report.md").read_text()
    assert "Where the protocol changes" not in markdown and "Every scenario and target asked ran in each." in markdown


def test_the_io_thread_is_compared_across_protocols():
    points = []
    for protocol, busy in (("resp", 450.0), ("lines", 900.0)):
        points.append(point("message-balancing", 1000.0, "PING 1000/s with WORK 5ms", scenario="head-of-line",
                            protocol=protocol, threads={"I/O thread": {"cpu_ms": busy, "runq_ms": 90.0, "delay_us": 1.0,
                                                                       "threads": 1}}))  # fmt: skip
    (_, (_, (line,))) = report.io_thread_blocks(points)
    assert "message-balancing (3.13)" in line
    assert "540 ms/s in resp (on a CPU 450)" in line and "990 ms/s in lines (on a CPU 900)" in line


def test_an_old_cell_and_point_speak_resp():
    assert Cell.from_json([1, "throughput", "redis", "C"]).protocol == journal.OLD_PROTOCOL == "resp"
    assert journal.upgraded({"arch": "hybrid"}) == {"target": "hybrid", "protocol": "resp"}
    assert journal.protocols_asked({"scenarios": []}) == ["resp"]


def test_a_reference_that_cannot_say_what_it_holds_runs_no_resources_scenario(tmp_path, monkeypatch):
    """idle-connections reads the memory a server holds: from /metrics, or a reference's
    probe. A reference with neither (as an HTTP server may be) is left out of it."""
    from connlab_compare import targets

    record = (targets.DIRECTORY / "redis/reference.toml").read_text()
    (tmp_path / "mute").mkdir()
    (tmp_path / "mute/reference.toml").write_text(
        "\n".join(line for line in record.replace('"redis"', '"mute"', 1).splitlines() if not line.startswith("probe")))
    monkeypatch.setenv("CONNLAB_REFERENCES", str(tmp_path))
    idle = runner.load_all(["idle-connections"], quick=True)[0]
    assert targets.get("mute").probe is None and not any(targets.get("mute").runs(idle, step) for step in idle.steps)
    assert runner.plan(["idle-connections"], ["single-thread", "mute"], ["3.13"], 1, True)[1] == [
        Cell(1, "idle-connections", "single-thread", "3.13")]


def test_resp_and_http_every_scenario_in_both_on_the_designs_and_each_reference_in_its_own():
    """PROTOCOLS=resp,http over every scenario file: the designs run each in both (HTTP
    has a request for every command), each reference in what its record lists, and the
    C twin of an HTTP step is wrk's (keep-alive, pipelined, or Connection: close)."""
    chosen, cells = runner.plan([], [], ["3.13"], 1, True, ["resp", "http"])
    for scenario in chosen:
        ran = {(c.target, c.protocol) for c in cells if c.scenario == scenario.name}
        design = (scenario.designs or ["single-thread"])[0]
        assert (design, "http") in ran and (design, "resp") in ran, scenario.name
    spoken = {c.target: set() for c in cells}
    for c in cells:
        spoken[c.target].add(c.protocol)
    for name, target in runner.targets.references().items():
        assert spoken.get(name, set()) <= set(target.protocols), name
    assert runner.not_run(chosen, [], ["resp", "http"]) == []  # nothing asked for by name, and every scenario said
    references = runner.targets.references()
    assert {row["target"] for row in runner.not_run(chosen, list(references), ["resp", "http"])} == {
        name for name, t in references.items() if set(t.protocols) != {"resp", "http"}}
    throughput, accept = (next(s for s in chosen if s.name == name) for name in ("throughput", "accept-storm"))
    assert {client for _, client in runner.steps_of(throughput, "single-thread", "http")} == {"locust", "wrk"}
    closed, client = runner.steps_of(accept, "single-thread", "http")[-1]
    argv = reference_client.arguments(closed, reference_client.expressible(closed, "http"), "target", 7000, 1, "http")
    assert client == "wrk" and argv[0] == "wrk" and "Connection: close" in argv and argv[argv.index("-d") + 1] == "1s"
