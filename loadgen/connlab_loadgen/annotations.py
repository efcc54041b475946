"""Grafana annotations at the start and stop of each load test, so dashboards show
which load produced which curve. Optional: without Grafana the load goes on, and the
log says so once.
"""

import logging
import os
import time

import gevent
from grafana_client import GrafanaApi

log = logging.getLogger("connlab.loadgen")


def arch_of(host):
    """tcp://multi-acceptor:7000 -> multi-acceptor (LOADGEN_ARCH wins when set)."""
    if os.environ.get("LOADGEN_ARCH"):
        return os.environ["LOADGEN_ARCH"]
    return (host or "").split("://", 1)[-1].rsplit(":", 1)[0] or "unknown"


def describe(environment):
    options = environment.parsed_options
    parts = [f"arch={arch_of(environment.host)}", f"host={environment.host}"]
    if options is not None:
        for key in ("protocol", "num_users", "spawn_rate", "mix", "connection_mode", "pipeline", "rate",
                    "echo_bytes", "work_us", "sleep_ms"):
            parts.append(f"{key}={getattr(options, key, None)}")
    return " ".join(parts)


class Annotator:
    def __init__(self, url=None, credential=None, timeout=2.0):
        self.url = url if url is not None else os.environ.get("GRAFANA_URL", "")
        if credential is None:
            token = os.environ.get("GRAFANA_TOKEN")
            user, password = os.environ.get("GRAFANA_USER"), os.environ.get("GRAFANA_PASSWORD")
            credential = token or ((user, password) if user and password else None)
        self.api = GrafanaApi.from_url(self.url, credential=credential, timeout=timeout) if self.url else None
        self.disabled_said = False

    def _say_disabled_once(self, why):
        if not self.disabled_said:
            log.warning("connlab-loadgen: no Grafana annotations (%s); the load test is not affected", why)
            self.disabled_said = True

    def annotate(self, what, environment):
        if self.api is None:
            self._say_disabled_once("GRAFANA_URL is not set")
            return None
        text = f"connlab load {what}: {describe(environment)}"
        tags = ["connlab", "load", what, arch_of(environment.host)]
        try:
            return self.api.annotations.add_annotation(time_from=int(time.time() * 1000), tags=tags, text=text)
        except Exception as exc:  # Grafana down, wrong credentials...: the load goes on
            self._say_disabled_once(f"Grafana at {self.url} did not accept one: {type(exc).__name__}: {exc}")
            return None

    def annotate_later(self, what, environment):
        """In a greenlet: the load must not wait for Grafana."""
        return gevent.spawn(self.annotate, what, environment)
