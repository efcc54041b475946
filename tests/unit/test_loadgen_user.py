"""A user whose server is gone keeps running, a user speaks HTTP in each connection mode,
and Grafana annotations are optional."""

import json
import logging
import threading
from argparse import Namespace
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer

import pytest
from locust.env import Environment

from connlab_loadgen import annotations, users


def options(**overrides):
    values = dict(mix="PING:1", echo_bytes=16, work_us=100, sleep_ms=10, connection_mode="persistent",
                  idle_interval=10.0, pipeline=1, rate=0.0, request_timeout=1.0, num_users=1, spawn_rate=1)
    values.update(overrides)
    return Namespace(**values)


def test_refused_connections_are_failures_and_the_user_goes_on(monkeypatch, unused_port):
    monkeypatch.setattr(users, "RECONNECT_BACKOFF_S", 0)
    environment = Environment(user_classes=[users.ConnlabUser], parsed_options=options())
    failures = []
    environment.events.request.add_listener(lambda exception, **_: failures.append(str(exception)))
    monkeypatch.setattr(users.ConnlabUser, "host", f"tcp://127.0.0.1:{unused_port}")
    user = users.ConnlabUser(environment)
    user.on_start()
    for _ in range(3):
        user.send_once()  # would raise if a failure escaped
    user.on_stop()
    assert failures == ["connect: connection refused"] * 3


@pytest.fixture
def unused_port():
    import socket

    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


class LabRoutes(BaseHTTPRequestHandler):
    """/ping and /echo as connlab's HTTP answers them; counts connections and requests."""

    protocol_version = "HTTP/1.1"  # persistent connections, pipelined requests read in turn
    connections, requests = [], []

    def setup(self):
        super().setup()
        LabRoutes.connections.append(self.client_address)

    def do_GET(self):
        self.answer(b"PONG" if self.path == "/ping" else None)

    def do_POST(self):
        self.answer(self.rfile.read(int(self.headers["Content-Length"])) if self.path == "/echo" else None)

    def answer(self, body):
        LabRoutes.requests.append((self.command, self.path, self.headers.get("Connection")))
        self.send_response(200 if body is not None else 404)
        body = body if body is not None else b"no route"
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize(("mode", "pipeline", "connections"), [("persistent", 4, 1), ("per-request", 2, 3)])
def test_a_user_speaks_http_in_each_connection_mode(monkeypatch, mode, pipeline, connections):
    server = ThreadingHTTPServer(("127.0.0.1", 0), LabRoutes)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    LabRoutes.connections, LabRoutes.requests = [], []
    environment = Environment(user_classes=[users.ConnlabUser], parsed_options=options(
        protocol="http", mix="PING:1,ECHO:1", connection_mode=mode, pipeline=pipeline))
    failures = []
    environment.events.request.add_listener(lambda exception, **_: failures.append(str(exception)))
    monkeypatch.setattr(users.ConnlabUser, "host", f"tcp://127.0.0.1:{server.server_port}")
    try:
        user = users.ConnlabUser(environment)
        user.on_start()
        for _ in range(3):
            user.send_once()
        user.on_stop()
    finally:
        server.shutdown()
        server.server_close()
    assert failures == []
    assert environment.stats.total.num_requests == 3 * pipeline
    assert {method for _, method in environment.stats.entries} == {"HTTP"}
    assert len(LabRoutes.connections) == connections
    closing = [connection == "close" for *_, connection in LabRoutes.requests]
    # per-request: each connection's last request asks the server to close it; persistent: none
    assert closing == ([False] * (pipeline - 1) + [True]) * 3 if mode == "per-request" else not any(closing)


class FakeGrafana(BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        FakeGrafana.received.append((self.path, self.headers.get("Authorization"), json.loads(body)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"id": 1, "message": "Annotation added"}')

    def log_message(self, *args):
        pass


def test_annotation_carries_the_architecture_and_parameters():
    server = HTTPServer(("127.0.0.1", 0), FakeGrafana)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    environment = Environment(host="tcp://multi-acceptor:7000", parsed_options=options(num_users=7, rate=500.0))
    annotator = annotations.Annotator(url=f"http://127.0.0.1:{server.server_port}", credential=("admin", "pw"))
    annotator.annotate("start", environment)
    thread.join(5)
    server.server_close()
    path, auth, body = FakeGrafana.received[-1]
    assert path == "/api/annotations" and auth.startswith("Basic ")
    assert {"connlab", "start", "multi-acceptor"} <= set(body["tags"])
    assert "arch=multi-acceptor" in body["text"] and "num_users=7" in body["text"] and "rate=500.0" in body["text"]


def test_unreachable_grafana_is_said_once_and_never_raises(caplog, unused_port):
    environment = Environment(host="tcp://hybrid:7000", parsed_options=options())
    annotator = annotations.Annotator(url=f"http://127.0.0.1:{unused_port}", credential=("a", "b"), timeout=1)
    with caplog.at_level(logging.WARNING, logger="connlab.loadgen"):
        annotator.annotate("start", environment)
        annotator.annotate("stop", environment)
    lines = [r.getMessage() for r in caplog.records if "Grafana" in r.getMessage()]
    assert len(lines) == 1 and "not affected" in lines[0]
