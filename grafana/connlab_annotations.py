"""Grafana annotations for load tests: a mark at start and at stop, tagged `connlab`.

For the load generator (issue 4): call `annotate_start(...)` when a test starts and
`annotate_stop(...)` when it stops. When Grafana is not reachable the load test goes on
and this logs one clear line. The dashboards' "Load tests" annotation query shows every
annotation tagged `connlab` (connlab_dashboards.common.ANNOTATION_TAG).

Settings: GRAFANA_URL (default http://grafana:3000, the compose service), and
GRAFANA_ADMIN_PASSWORD (or GRAFANA_TOKEN, a service-account token).
"""

import logging
import os
import time

log = logging.getLogger("connlab.annotations")
TAG = "connlab"


def client_from_env(env=os.environ):
    """A GrafanaApi, or None (logged once) when Grafana is not configured or reachable."""
    from grafana_client import GrafanaApi

    url = env.get("GRAFANA_URL", "http://grafana:3000")
    credential = env.get("GRAFANA_TOKEN") or (
        ("admin", env["GRAFANA_ADMIN_PASSWORD"]) if env.get("GRAFANA_ADMIN_PASSWORD") else None
    )
    if credential is None:
        log.warning("connlab: no Grafana annotations: set GRAFANA_ADMIN_PASSWORD or GRAFANA_TOKEN")
        return None
    api = GrafanaApi.from_url(url, credential=credential, timeout=3)
    try:
        api.health.check()
    except Exception as exc:
        log.warning("connlab: no Grafana annotations: %s is not reachable (%s); the load test goes on", url, exc)
        return None
    return api


def _annotate(api, event, arch, params):
    if api is None:
        return None
    text = f"load test {event}: {arch} " + " ".join(f"{k}={v}" for k, v in sorted(params.items()))
    try:
        reply = api.annotations.add_annotation(
            time_from=int(time.time() * 1000), tags=[TAG, f"arch:{arch}", f"load:{event}"], text=text
        )
    except Exception as exc:  # never let the dashboard side stop a load test
        log.warning("connlab: Grafana annotation failed (%s); the load test goes on", exc)
        return None
    return reply.get("id")


def annotate_start(api, arch, **params):
    return _annotate(api, "start", arch, params)


def annotate_stop(api, arch, **params):
    return _annotate(api, "stop", arch, params)
