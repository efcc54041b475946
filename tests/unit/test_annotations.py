"""The load-test annotations never stop a load test: without Grafana they log and go on."""

import logging
import socket

import connlab_annotations


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_grafana_logs_one_line_and_returns_none(caplog):
    env = {"GRAFANA_URL": f"http://127.0.0.1:{free_port()}", "GRAFANA_ADMIN_PASSWORD": "x"}
    with caplog.at_level(logging.WARNING, logger="connlab.annotations"):
        api = connlab_annotations.client_from_env(env)
    assert api is None
    assert len(caplog.records) == 1 and "not reachable" in caplog.records[0].getMessage()
    assert connlab_annotations.annotate_start(api, "hybrid", users=1) is None


def test_no_credentials_means_no_annotations(caplog):
    with caplog.at_level(logging.WARNING, logger="connlab.annotations"):
        assert connlab_annotations.client_from_env({}) is None
    assert "GRAFANA_ADMIN_PASSWORD" in caplog.text
