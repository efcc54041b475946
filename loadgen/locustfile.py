"""connlab's locustfile: RESP over raw TCP against one connlab architecture.

    locust -f loadgen/locustfile.py --host tcp://multi-acceptor:7000

Parameters (web UI "custom parameters" or command line): --mix, --echo-bytes, --work-us,
--sleep-ms, --connection-mode, --idle-interval, --pipeline, --rate, --request-timeout.
"""

import json
import logging
import os

import gevent
from flask import request
from locust import events, runners
from locust.runners import MasterRunner, WorkerRunner

from connlab_loadgen import metrics, options, precision, schedule
from connlab_loadgen.annotations import Annotator, describe
from connlab_loadgen.users import ConnlabUser  # noqa: F401  (the user class Locust runs)

log = logging.getLogger("connlab.loadgen")

precision.install()
# Locust's CPU monitor feeds the web UI's CPU warning; sample it as often as ours.
runners.CPU_MONITOR_INTERVAL = metrics.CPU_SAMPLE_SECONDS
METRICS_PORT = int(os.environ.get("LOADGEN_METRICS_PORT", "9646"))
BEHIND = {"sent": 0, "late": 0}  # the whole test's open-loop counts, on the master (or alone)


@events.init_command_line_parser.add_listener
def _(parser):
    options.add_arguments(parser)


@events.init.add_listener
def on_init(environment, **_):
    # gevent's loop clock is cached; after a slow start (imports) it can be seconds stale,
    # and Locust's --run-time timer, armed from it, would fire that much early.
    gevent.get_hub().loop.update_now()
    environment.events.request.add_listener(metrics.on_request)
    if METRICS_PORT:
        metrics.start_exporter(METRICS_PORT)
    gevent.spawn(metrics.watch_cpu, environment)
    if not isinstance(environment.runner, WorkerRunner):
        environment.connlab_annotator = Annotator()
    if environment.web_ui:
        add_schedule_tab(environment)


def schedule_totals(environment):
    """(paced sends, late sends) of the current test: the workers' reports on a master,
    plus what this process has not folded in yet when it runs alone."""
    sent, late = BEHIND["sent"], BEHIND["late"]
    if not isinstance(environment.runner, MasterRunner):
        sent, late = sent + schedule.COUNTS.sent, late + schedule.COUNTS.late
    return sent, late


def cpu_rows(environment):
    """Each load generator process's CPU, flagged when saturated (then the figures are
    the load generator's, not the server's)."""
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        processes = [(f"worker {node.id[-8:]}", node.cpu_usage) for node in runner.clients.values()]
    else:
        processes = [("this process", runner.current_cpu_usage)]
    return [
        {"name": f"CPU of {name}",
         "value": f"{cpu:.0f}%" + (" SATURATED: these figures measure the load generator, add workers"
                                   if cpu >= metrics.CPU_SATURATED_PERCENT else "")}
        for name, cpu in processes
    ]


def add_schedule_tab(environment):
    """A "Load generator" tab in the web UI (Locust's extended_tabs/extended_stats hooks):
    the schedule and each load generator process's CPU."""
    web_ui = environment.web_ui
    web_ui.template_args["extended_tabs"] = [{"title": "Load generator", "key": "connlab-schedule"}]
    web_ui.template_args["extended_tables"] = [{
        "key": "connlab-schedule",
        "structure": [{"key": "name", "title": "Open-loop schedule"}, {"key": "value", "title": "Value"}],
    }]

    @web_ui.app.after_request
    def add_schedule_stats(response):
        if request.path != "/stats/requests" or not response.is_json:
            return response
        sent, late = schedule_totals(environment)
        rows = [
            {"name": "paced sends (Rate > 0, or idle mode)", "value": sent},
            {"name": f"sends more than {schedule.LATE_TOLERANCE_S * 1000:g} ms behind schedule", "value": late},
            {"name": "share behind schedule", "value": f"{100 * late / sent:.1f}%" if sent else "-"},
            *cpu_rows(environment),
        ]
        response.set_data(json.dumps({**response.json, "extended_stats": [{"key": "connlab-schedule", "data": rows}]}))
        return response


@events.report_to_master.add_listener
def on_report_to_master(client_id, data):
    data["connlab_sent"], data["connlab_late"] = schedule.COUNTS.take()


@events.worker_report.add_listener
def on_worker_report(client_id, data):
    BEHIND["sent"] += data.get("connlab_sent", 0)
    BEHIND["late"] += data.get("connlab_late", 0)


@events.test_start.add_listener
def on_test_start(environment, **_):
    if isinstance(environment.runner, WorkerRunner):
        return
    BEHIND.update(sent=0, late=0)
    schedule.COUNTS.take()
    log.info("connlab-loadgen: load test started: %s", describe(environment))
    environment.connlab_annotator.annotate_later("start", environment)


@events.test_stop.add_listener
def on_test_stop(environment, **_):
    if isinstance(environment.runner, WorkerRunner):
        return
    log.info("connlab-loadgen: load test stopped; %s", behind_schedule_line(environment))
    environment.connlab_annotator.annotate_later("stop", environment)


def behind_schedule_line(environment):
    if not isinstance(environment.runner, MasterRunner):  # alone: fold in our own counts
        sent, late = schedule.COUNTS.take()
        BEHIND["sent"] += sent
        BEHIND["late"] += late
    if not BEHIND["sent"]:
        return "closed loop (no --rate, not idle): no schedule to fall behind"
    return (f"open loop: {BEHIND['late']} of {BEHIND['sent']} paced sends left more than "
            f"{schedule.LATE_TOLERANCE_S * 1000:g} ms behind schedule")


@events.quitting.add_listener
def on_quitting(environment, **_):
    if isinstance(environment.runner, WorkerRunner):
        return
    print(precision.table(environment.stats))
    print(behind_schedule_line(environment))
    prefix = environment.parsed_options and environment.parsed_options.csv_prefix
    if prefix:
        precision.write_csv(environment.stats, f"{prefix}_latency_ms.csv")
        print(f"CSV files: {prefix}_stats.csv, {prefix}_stats_history.csv, {prefix}_failures.csv, "
              f"{prefix}_exceptions.csv, {prefix}_latency_ms.csv (sub-ms precision)")
