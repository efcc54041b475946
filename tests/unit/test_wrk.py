"""wrk, the HTTP C client: its command line, and its output as captured from real runs
(Debian's wrk 4.1.0 with loadgen/wrk/connlab.lua, against nginx and against servers that
reset or never answer; tests/unit/data/wrk-*.txt)."""

from pathlib import Path

import pytest
from connlab_compare.clients import CPU_MARK, RedisBenchmark, Wrk

DATA = Path(__file__).parent / "data"
SCRIPT = Path(__file__).parents[2] / "loadgen/wrk/connlab.lua"


def figures(name, threads=1):
    return Wrk.parse((DATA / f"wrk-{name}.txt").read_text(), threads)


def test_a_command_is_a_route_of_the_http_protocol():
    argv = Wrk.command("target", 7000, ["SLEEP", "10"], clients=20, seconds=5, threads=2)
    assert argv == ["wrk", "-c", "20", "-t", "2", "-d", "5s", "-s", Wrk.SCRIPT, "http://target:7000/sleep?ms=10",
                    "--", "1", "GET"]  # fmt: skip
    assert Wrk.command("h", 1, ["WORK", "200"])[-4] == "http://h:1/work?us=200"
    assert Wrk.command("h", 1, ["info"])[-4:] == ["http://h:1/info", "--", "1", "GET"]
    assert Wrk.command("h", 1)[-4:] == ["http://h:1/ping", "--", "1", "GET"]  # PING by default


def test_echo_posts_its_payload_and_pipelining_and_close_are_arguments():
    argv = Wrk.command("h", 80, ["ECHO", "x" * 16], pipeline=16)
    assert argv[-5:] == ["http://h:80/echo", "--", "16", "POST", "x" * 16]
    assert Wrk.command("h", 80, ["ECHO"])[-2:] == ["POST", ""]  # an empty body: Content-Length: 0
    closing = Wrk.command("h", 80, ["PING"], keepalive=False, clients=0, threads=3, timeout_s=4)
    assert closing[closing.index("-H") + 1] == "Connection: close"
    assert closing[1:5] == ["-c", "3", "-t", "3"]  # wrk needs a connection per thread at least
    assert closing[closing.index("--timeout") + 1] == "4s"
    assert "-H" not in Wrk.command("h", 80)


@pytest.mark.parametrize(("argv", "message"), [(["GET"], "no HTTP request for 'GET'"),
                                               (["SLEEP"], "SLEEP takes one argument")])  # fmt: skip
def test_a_command_without_an_http_request_is_refused_by_name(argv, message):
    with pytest.raises(ValueError, match=message):
        Wrk.command("h", 80, argv)
    with pytest.raises(ValueError, match="at least 1"):
        Wrk.command("h", 80, seconds=0)


def test_keep_alive_output_gives_redis_benchmarks_figures():
    got = figures("ping")
    assert set(got) == {"rps", "p50_ms", "p99_ms", "p999_ms", "max_ms", "errors", "requests", "loadgen_cpu",
                        "loadgen_bound", "histogram"}  # fmt: skip
    assert got["requests"] == 139681 and got["errors"] == 0
    assert got["rps"] == pytest.approx(139681 / 2.012117)  # wrk printed 69419.92
    assert (got["p50_ms"], got["max_ms"]) == (0.093, 5.294)  # its 50th percentile, 93 µs; its max, 5.29 ms
    assert got["p50_ms"] <= got["p99_ms"] <= got["p999_ms"] <= got["max_ms"]
    assert sum(got["histogram"].values()) == 139681
    assert max(got["histogram"], key=float) == "5.294"
    # `times` after CPU_MARK: wrk used 0.19 + 0.71 s of CPU in 2.012 s.
    assert got["loadgen_cpu"] == pytest.approx(44.7, abs=0.1) and not got["loadgen_bound"]
    assert figures("ping", threads=2)["loadgen_cpu"] == pytest.approx(22.4, abs=0.1)


def test_connection_close_and_pipelined_runs_read_alike():
    close, echo = figures("close"), figures("echo-p4")
    assert close["requests"] == 48977 and close["errors"] == 0
    assert echo["requests"] == 121817 and sum(echo["histogram"].values()) == 121817


def test_socket_errors_and_error_statuses_count_as_errors():
    assert figures("404")["errors"] == 61503  # "Non-2xx or 3xx responses: 61503"
    reset = figures("reset")
    assert reset["errors"] == 28519 and reset["requests"] == 14260  # "Socket errors: ... read 28519"


def test_a_run_that_served_nothing_has_no_latency():
    got = figures("silent")
    assert (got["rps"], got["requests"], got["p50_ms"], got["histogram"]) == (0.0, 0, None, {})
    assert got["failure"] == "no request completed"


def test_a_run_that_did_not_finish_is_not_read():
    with pytest.raises(AttributeError):
        figures("refused")  # "unable to connect to 127.0.0.1:9 Connection refused"
    with pytest.raises(AttributeError):
        Wrk.parse(f"PANIC: unprotected error in call to Lua API\n{CPU_MARK}\n0m0.01s 0m0.00s\n0m0.00s 0m0.00s\n")


def test_same_attributes_as_redis_benchmark():
    assert (Wrk.name, Wrk.protocol, Wrk.image) == ("wrk", "http", "loadgen")
    for attribute in ("name", "protocol", "image", "command", "parse"):
        assert hasattr(RedisBenchmark, attribute) and hasattr(Wrk, attribute)


def test_the_script_reports_what_parse_reads():
    """The Lua `done` hook's JSON keys are the ones Wrk.parse reads (the fixtures were made with it)."""
    text = SCRIPT.read_text()
    for key in ("requests", "duration_us", "errors", "latency_us", "percentiles_us", "connlab-wrk "):
        assert key in text


def test_the_load_generator_image_carries_wrk_and_the_script():
    dockerfile = (Path(__file__).parents[2] / "loadgen/Dockerfile").read_text()
    assert "apt-get install -y --no-install-recommends wrk" in dockerfile
    assert f"COPY loadgen/wrk/connlab.lua {Wrk.SCRIPT}\n" in dockerfile
