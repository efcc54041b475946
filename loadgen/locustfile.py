"""connlab's locustfile: RESP or HTTP/1.1 over raw TCP against one connlab architecture.

    locust -f loadgen/locustfile.py --host tcp://multi-acceptor:7000 [--protocol http]

Parameters (web UI "custom parameters" or command line): --protocol (default: PROTOCOL,
else resp), --mix, --echo-bytes, --work-us, --sleep-ms, --connection-mode,
--idle-interval, --pipeline, --rate, --request-timeout.
"""

import logging

import gevent
from locust import events, runners
from locust.runners import WorkerRunner

from connlab_loadgen import metrics, options, precision, saturation, schedule, webui
from connlab_loadgen.annotations import Annotator, describe
from connlab_loadgen.recorder import Recorder
from connlab_loadgen.users import ConnlabUser  # noqa: F401  (the user class Locust runs)

log = logging.getLogger("connlab.loadgen")

precision.install()
# Locust's own CPU monitor (its log warning, the Workers tab) samples as often as ours.
runners.CPU_MONITOR_INTERVAL = saturation.CPU_SAMPLE_SECONDS
ENVIRONMENT = None  # this process's, set at init


@events.init_command_line_parser.add_listener
def _(parser):
    options.add_arguments(parser)


@events.init.add_listener
def on_init(environment, **_):
    global ENVIRONMENT
    ENVIRONMENT = environment
    # gevent's loop clock is cached; after a slow start (imports) it can be seconds stale,
    # and Locust's --run-time timer, armed from it, would fire that much early.
    gevent.get_hub().loop.update_now()
    environment.events.request.add_listener(metrics.on_request)
    metrics.start_exporter()
    gevent.spawn(saturation.watch_cpu)
    if not isinstance(environment.runner, WorkerRunner):
        environment.connlab_annotator = Annotator()
    if environment.web_ui:
        webui.extend(environment)


@events.report_to_master.add_listener
def on_report_to_master(client_id, data):
    # Ours run before Locust's own listener (registered with the runner), so what the
    # recorder folds in now goes out in this report.
    Recorder.of(ENVIRONMENT).flush()
    data["connlab_sent"], data["connlab_late"] = schedule.COUNTS.take()
    data["connlab_cpu_peak"] = saturation.WATCH.peak


@events.worker_report.add_listener
def on_worker_report(client_id, data):
    schedule.TOTALS.add(data.get("connlab_sent", 0), data.get("connlab_late", 0))
    peaks = saturation.WATCH.worker_peaks
    peaks[client_id] = max(peaks.get(client_id, 0.0), data.get("connlab_cpu_peak", 0.0))


@events.test_start.add_listener
def on_test_start(environment, **_):
    saturation.WATCH.reset()
    if isinstance(environment.runner, WorkerRunner):
        return
    schedule.TOTALS.reset()
    log.info("connlab-loadgen: load test started: %s", describe(environment))
    environment.connlab_annotator.annotate_later("start", environment)


@events.test_stop.add_listener
def on_test_stop(environment, **_):
    Recorder.of(environment).flush()
    if isinstance(environment.runner, WorkerRunner):
        return
    log.info("connlab-loadgen: load test stopped; %s", schedule.TOTALS.summary(webui.alone(environment)))
    environment.connlab_annotator.annotate_later("stop", environment)


@events.quitting.add_listener
def on_quitting(environment, **_):
    if isinstance(environment.runner, WorkerRunner):
        return
    print(webui.summary(environment))
    prefix = environment.parsed_options and environment.parsed_options.csv_prefix
    if prefix:
        precision.write_csv(environment.stats, f"{prefix}_latency_ms.csv")
        print(f"CSV files: {prefix}_stats.csv, {prefix}_stats_history.csv, {prefix}_failures.csv, "
              f"{prefix}_exceptions.csv, {prefix}_latency_ms.csv (sub-ms precision)")
