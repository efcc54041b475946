"""Read generated dashboards back: panels, their PromQL, and variable queries.

Used by the tests: the panel-query test runs every expression found here against a
live Prometheus, so nothing a panel shows goes unchecked.
"""

import json
import pathlib
import re

DASHBOARD_DIR = pathlib.Path(__file__).resolve().parent.parent / "dashboards"
BUILTIN_VARIABLES = {"__rate_interval", "__range", "__interval"}
_LABEL_VALUES = re.compile(r"^label_values\((?P<match>.*),\s*(?P<label>\w+)\)$")


def load_all(directory=DASHBOARD_DIR):
    """file stem -> dashboard JSON, for every committed dashboard."""
    return {path.stem: json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))}


def panels(dashboard):
    """Every panel, rows' nested panels included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def panel_queries(dashboard):
    """(panel title, refId, PromQL) of every target of every non-row panel."""
    for panel in panels(dashboard):
        if panel.get("type") == "row":
            continue
        for target in panel.get("targets", []):
            yield panel["title"], target.get("refId"), target.get("expr")


def variable_queries(dashboard):
    """(variable name, series selector, label) of every label_values() variable."""
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable["query"] if isinstance(variable["query"], str) else variable["query"]["query"]
        found = _LABEL_VALUES.match(query)
        if not found:
            raise ValueError(f"variable {variable['name']}: unsupported query {query!r}")
        yield variable["name"], found["match"], found["label"]


def variables_used(expr):
    return set(re.findall(r"\$\{?(\w+)", expr))
