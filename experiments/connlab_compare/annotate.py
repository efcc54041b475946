"""Grafana annotations for each scenario and architecture, when Grafana answers
(GRAFANA_URL, default the stack's on 127.0.0.1:3000; GRAFANA_USER/GRAFANA_PASSWORD or
GRAFANA_TOKEN, else admin and the password `make up` generated). Optional: without
Grafana the comparison runs the same, and says so once."""

import os
import time
from pathlib import Path

from grafana_client import GrafanaApi

PASSWORD_FILE = Path(__file__).resolve().parents[2] / "build/grafana-admin-password"


class Annotations:
    def __init__(self):
        url = os.environ.get("GRAFANA_URL", "http://127.0.0.1:3000")
        password = os.environ.get("GRAFANA_PASSWORD") or (PASSWORD_FILE.read_text().strip() if PASSWORD_FILE.exists() else "")
        credential = os.environ.get("GRAFANA_TOKEN") or (os.environ.get("GRAFANA_USER", "admin"), password)
        self.api = GrafanaApi.from_url(url, credential=credential, timeout=2)
        try:
            self.api.health.check()
        except Exception as exc:  # no Grafana here: nothing to annotate
            print(f"connlab: compare: no Grafana annotations (Grafana at {url}: {type(exc).__name__})")
            self.api = None

    def add(self, text, tags):
        if self.api is None:
            return
        try:
            self.api.annotations.add_annotation(time_from=int(time.time() * 1000), tags=tags, text=text)
        except Exception as exc:
            print(f"connlab: compare: Grafana did not take an annotation ({type(exc).__name__}); no more will be sent")
            self.api = None
