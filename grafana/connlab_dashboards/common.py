"""Shared pieces: the datasource, queries, panels with their units, variables."""

import itertools

from grafana_foundation_sdk.builders import bargauge, common as common_builders, dashboard, prometheus, timeseries
from grafana_foundation_sdk.models import common, dashboard as dashboard_models

# Fixed in grafana/provisioning/datasources/prometheus.yaml: dashboards refer to it by uid.
DATASOURCE_UID = "connlab-prometheus"
DATASOURCE = common.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
# Grafana picks a window of at least four scrapes, so rates stay smooth at 5 s scrapes.
RATE = "$__rate_interval"


class Ids:
    """Panel ids, unique within a dashboard, stable across regenerations."""

    def __init__(self):
        self._next = itertools.count(1)

    def __call__(self):
        return next(self._next)


def query(expr, legend, ref_id="A"):
    return prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref_id).datasource(DATASOURCE)


def timeseries_panel(ids, title, description, unit, targets, width=12, height=8, stack=False, min_value=0):
    panel = (
        timeseries.Panel()
        .id(ids())
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .min(min_value)
        .span(width)
        .height(height)
        .fill_opacity(10)
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.TABLE)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["mean", "max", "lastNotNull"])
        )
        .tooltip(common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI).sort(common.SortOrder.DESCENDING))
    )
    if stack:
        panel.stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
    for index, (expr, legend) in enumerate(targets):
        panel.with_target(query(expr, legend, chr(ord("A") + index)))
    return panel


def bargauge_panel(ids, title, description, unit, targets, width=12, height=8):
    panel = (
        bargauge.Panel()
        .id(ids())
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .min(0)
        .span(width)
        .height(height)
        .display_mode(common.BarGaugeDisplayMode.GRADIENT)
        .orientation(common.VizOrientation.HORIZONTAL)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )
    for index, (expr, legend) in enumerate(targets):
        panel.with_target(query(expr, legend, chr(ord("A") + index)).instant())
    return panel


def row(ids, title):
    return dashboard.Row(title).id(ids())


# Grafana's own annotation store: where the load generator's start/stop marks go.
GRAFANA_DATASOURCE = common.DataSourceRef(type_val="grafana", uid="-- Grafana --")
ANNOTATION_TAG = "connlab"


def load_test_annotations():
    """Organization-wide annotations tagged `connlab` (load test start/stop)."""
    return (
        dashboard.AnnotationQuery()
        .name("Load tests")
        .datasource(GRAFANA_DATASOURCE)
        .enable(True)
        .icon_color("orange")
        .target(dashboard.AnnotationTarget().type("tags").tags([ANNOTATION_TAG]).match_any(True).limit(100))
    )


def query_variable(name, label, query, multi=True):
    """A variable from the values Prometheus has seen of one label; with `multi`, any
    number of them and "All"."""
    variable = (
        dashboard.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .definition(query)
        .refresh(dashboard_models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dashboard_models.VariableSort.ALPHABETICAL_ASC)
        .multi(multi)
    )
    if multi:
        variable.include_all(True).all_value(".*")
    return variable


# Every query's selector starts here: the chosen `make compare` runs ("All" also matches
# the stack's own series, which carry no `run`).
RUN = 'run=~"$run"'


def run_variable():
    """The `make compare` runs Prometheus has scraped (their UTC stamps, the folders'
    names under results/compare/); it narrows every other variable and query."""
    return query_variable("run", "Compare run", "label_values(connlab_server_info, run)")


def gil_variable():
    """The server builds Prometheus has seen: the GIL `enabled` (3.13) or `disabled`
    (3.13t, free-threaded). It narrows the architectures offered."""
    return query_variable("gil", "GIL", f"label_values(connlab_server_info{{{RUN}}}, gil)")


def arch_variable(multi):
    """The architectures that Prometheus has seen on the chosen runs and builds
    (connlab_server_info carries `arch` and `gil`)."""
    return query_variable("arch", "Architecture", f'label_values(connlab_server_info{{{RUN}, gil=~"$gil"}}, arch)', multi)


def command_variable():
    return query_variable("command", "Command", f'label_values(connlab_requests_total{{{RUN}, arch=~"$arch"}}, command)')


def base_dashboard(uid, title, description, tags):
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["connlab", *tags])
        .readonly()
        .time("now-15m", "now")
        .refresh("5s")
        .timezone("browser")
        .tooltip(dashboard_models.DashboardCursorSync.CROSSHAIR)
        .annotation(load_test_annotations())
        .link(
            dashboard.DashboardLink("connlab dashboards")
            .type(dashboard_models.DashboardLinkType.DASHBOARDS)
            .tags(["connlab"])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
    )
