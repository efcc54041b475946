"""Commands: replies, argument errors, and the CPU/blocking work they stand for."""

import time

import pytest

from connlab.commands import Closing, burn_cpu, execute
from connlab.config import Settings
from connlab.protocols.resp import render


def run(*args):
    return render(execute([a.encode() if isinstance(a, str) else a for a in args], Settings())[1])


def test_ping_and_echo():
    assert run("PING") == b"+PONG\r\n"
    assert run("ping", "hi") == b"$2\r\nhi\r\n"
    assert run("EcHo", b"\x00\r\n") == b"$3\r\n\x00\r\n\r\n"


@pytest.mark.parametrize(
    "args, message",
    [
        (("ECHO",), "-ERR wrong number of arguments for 'echo' command"),
        (("ECHO", "a", "b"), "-ERR wrong number of arguments for 'echo' command"),
        (("WORK", "x"), "-ERR microseconds is not an integer: 'x'"),
        (("WORK", "-1"), "-ERR microseconds must not be negative"),
        (("SLEEP", "1.5"), "-ERR milliseconds is not an integer: '1.5'"),
        (("SLEEP",), "-ERR wrong number of arguments for 'sleep' command"),
        (("FLUSHALL",), "-ERR unknown command 'FLUSHALL'"),
        (("CONFIG", "SET", "x", "y"), "-ERR only CONFIG GET <parameter> is supported"),
    ],
)
def test_errors_name_what_is_wrong(args, message):
    reply = run(*args)
    assert reply == message.encode() + b"\r\n"
    assert not isinstance(reply, Closing)


def test_quit_closes():
    reply = run("QUIT")
    assert isinstance(reply, Closing) and reply.reply == b"+OK\r\n"


def test_config_get_answers_what_redis_benchmark_asks():
    assert run("CONFIG", "GET", "save") == b"*2\r\n$4\r\nsave\r\n$0\r\n\r\n"
    assert run("CONFIG", "GET", "maxmemory") == b"*0\r\n"


def test_info_reports_settings():
    text = run("INFO").decode()
    fields = dict(line.split(":", 1) for line in text.split("\r\n")[1:] if line)
    assert fields["arch"] == "single-thread"
    assert fields["workers"] == "1"
    assert {"pid", "python", "cpus", "gil"} <= fields.keys()


def test_work_burns_thread_cpu_time():
    before = time.thread_time()
    assert run("WORK", "20000") == b"+OK\r\n"
    assert time.thread_time() - before >= 0.02


def test_sleep_blocks_without_cpu():
    started, cpu = time.monotonic(), time.thread_time()
    run("SLEEP", "30")
    assert time.monotonic() - started >= 0.03
    assert time.thread_time() - cpu < 0.02


def test_burn_zero_returns():
    burn_cpu(0)


def test_command_labels_for_metrics():
    assert execute([b"echo", b"x"], Settings())[0] == "ECHO"
    assert execute([b"quit"], Settings())[0] == "QUIT"
    assert execute([b"nosuch"], Settings())[0] == "unknown"


def test_hello_negotiates_resp2_only():
    assert run("HELLO") == b"*4\r\n$6\r\nserver\r\n$7\r\nconnlab\r\n$5\r\nproto\r\n:2\r\n"
    assert run("HELLO", "3").startswith(b"-NOPROTO this server speaks RESP2 only")
