"""connlab's Grafana dashboards, as code (grafana-foundation-sdk 0.0.21).

`make dashboards` writes them to grafana/dashboards/*.json, which is committed and which
Grafana's provisioning loads; tests/unit/test_dashboards.py fails when the committed
JSON differs from what this code generates.
"""

import warnings

# The SDK nudges towards the v2 dashboard schema; file provisioning in Grafana 12 loads
# the v1 JSON without feature flags, so v1 is the deliberate choice here.
warnings.filterwarnings("ignore", message="Prefer using dashboardv2", category=DeprecationWarning)

from . import side_by_side, workers  # noqa: E402

# file name (without .json) -> builder function
DASHBOARDS = {
    "architectures-side-by-side": side_by_side.build,
    "workers": workers.build,
}


def render(name):
    """The JSON text of one dashboard, stable byte for byte for the same code."""
    import json

    from grafana_foundation_sdk.cog.encoder import JSONEncoder

    return json.dumps(DASHBOARDS[name]().build(), cls=JSONEncoder, sort_keys=True, indent=2) + "\n"
