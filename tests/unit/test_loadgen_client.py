"""TcpClient against a scripted server on loopback: each request is recorded once,
failures get clear names, and nothing escapes a user; in RESP and in HTTP."""

import socket
import threading

import pytest
from locust.env import Environment

from connlab_loadgen import errors, http, resp
from connlab_loadgen.client import TcpClient
from connlab_loadgen.commands import Command


class ScriptedServer:
    """Accepts one connection, reads `expect` bytes, answers `reply`, then maybe closes."""

    def __init__(self, reply, expect, close=False):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.reply, self.expect, self.close = reply, expect, close
        self.received = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.listener.accept()
        conn.settimeout(5)
        while len(self.received) < self.expect:
            chunk = conn.recv(65536)
            if not chunk:
                break
            self.received += chunk
        conn.sendall(self.reply)
        if self.close:
            conn.close()
        else:
            self.conn = conn

    def stop(self):
        self.thread.join(5)
        self.listener.close()


class Successes:
    """Stands in for the recorder: each success as (name, milliseconds)."""

    def __init__(self):
        self.calls = []
        self.methods = set()

    def ok(self, name, milliseconds, length, now, method="RESP"):
        self.calls.append((name, milliseconds))
        self.methods.add(method)


@pytest.fixture
def recorded():
    """Locust's request events (failures) and the successes, in order."""
    environment = Environment()
    events = []
    environment.events.request.add_listener(lambda **kw: events.append(kw))
    return environment, events, Successes()


def run(recorded, reply, commands, close=False, timeout=2, codec=resp):
    environment, events, successes = recorded
    wire = b"".join(c.wire for c in commands)
    server = ScriptedServer(reply, len(wire), close)
    client = TcpClient(environment, "127.0.0.1", server.port, timeout=timeout, codec=codec)
    client.recorder = successes
    raised = None
    try:
        client.execute(commands)
    except errors.LoadgenFailure as failure:
        raised = failure
    server.stop()
    assert server.received == wire
    return events, raised, client


def test_pipeline_records_each_request_singly(recorded):
    commands = [Command.ping(), Command.echo(3), Command.ping()]
    events, raised, client = run(recorded, b"+PONG\r\n$3\r\nxxx\r\n+PONG\r\n", commands)
    assert raised is None and client.connected
    assert events == []  # successes go to the recorder, not through the event
    successes = recorded[2].calls
    assert [name for name, _ in successes] == ["PING", "ECHO 3B", "PING"]
    # Replies come in order, so pipelined latencies never decrease.
    times = [milliseconds for _, milliseconds in successes]
    assert times == sorted(times) and times[0] > 0


def test_server_closing_mid_pipeline_fails_the_rest_by_name(recorded):
    events, raised, client = run(recorded, b"+PONG\r\n", [Command.ping()] * 3, close=True)
    assert isinstance(raised, errors.ConnectionClosed) and not client.connected
    assert [name for name, _ in recorded[2].calls] == ["PING"]
    assert [(e["name"], str(e["exception"])) for e in events] == [
        ("PING", "connection closed by server before the reply"), ("PING", "connection closed by server before the reply")]


def test_error_reply_and_wrong_reply_are_failures_not_exceptions(recorded):
    events, raised, client = run(recorded, b"-ERR unknown command 'X'\r\n+NOPE\r\n", [Command.ping()] * 2)
    assert raised is None and client.connected
    assert str(events[0]["exception"]) == "reply: server error: ERR unknown command 'X'"
    assert isinstance(events[1]["exception"], errors.UnexpectedReply)


def test_garbage_is_a_protocol_error(recorded):
    events, raised, _ = run(recorded, b"?what\r\n", [Command.ping()])
    assert isinstance(raised, errors.ProtocolError)
    assert str(events[0]["exception"]) == "reply: RESP protocol error (does the server speak RESP? --protocol)"


def test_silent_server_is_a_reply_timeout(recorded):
    events, raised, _ = run(recorded, b"", [Command.ping()], timeout=0.2)
    assert isinstance(raised, errors.ReplyTimeout) and str(events[0]["exception"]) == "reply: timed out"


def test_refused_connect_is_recorded_as_connect_failure(recorded):
    environment, events, _ = recorded
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # closed again: nothing listens there now
    client = TcpClient(environment, "127.0.0.1", port)
    with pytest.raises(errors.ConnectRefused):
        client.execute([Command.ping()])
    assert [(e["name"], str(e["exception"])) for e in events] == [("connect", "connect: connection refused")]


def http_response(status, body, reason="OK", close=False):
    return (b"HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s\r\n%s"
            % (status, reason.encode(), len(body), b"Connection: close\r\n" if close else b"", body))


def test_http_pipeline_records_each_request_singly_as_http(recorded):
    commands = [Command.ping(http), Command.echo(3, http), Command.ping(http)]
    reply = http_response(200, b"PONG") + http_response(200, b"xxx") + http_response(200, b"PONG")
    events, raised, client = run(recorded, reply, commands, codec=http)
    assert raised is None and client.connected and events == []
    assert [name for name, _ in recorded[2].calls] == ["PING", "ECHO 3B", "PING"]
    assert recorded[2].methods == {"HTTP"}


def test_http_refusal_and_wrong_body_are_failures_not_exceptions(recorded):
    reply = http_response(404, b"no route", "Not Found") + http_response(200, b"NOPE")
    events, raised, client = run(recorded, reply, [Command.ping(http)] * 2, codec=http)
    assert raised is None and client.connected
    assert str(events[0]["exception"]) == "reply: server error: 404 Not Found: no route"
    assert events[0]["request_type"] == "HTTP"
    assert isinstance(events[1]["exception"], errors.UnexpectedReply)


def test_http_server_closing_after_a_response_fails_the_rest_by_name(recorded):
    reply = http_response(400, b"bad request", "Bad Request", close=True)
    events, raised, client = run(recorded, reply, [Command.ping(http)] * 2, close=True, codec=http)
    assert isinstance(raised, errors.ConnectionClosed) and not client.connected
    assert [str(e["exception"]) for e in events] == [
        "reply: server error: 400 Bad Request: bad request", "connection closed by server before the reply"]


def test_http_garbage_is_an_http_protocol_error(recorded):
    events, raised, _ = run(recorded, b"+PONG\r\n", [Command.ping(http)], codec=http)
    assert isinstance(raised, errors.ProtocolError)
    assert str(events[0]["exception"]) == "reply: HTTP protocol error (does the server speak HTTP? --protocol)"
