"""What connlab adds to Locust's web UI and to its end-of-test output.

- A "Load generator" tab (Locust's extended_tabs/extended_stats hooks): the open-loop
  schedule and each load generator process's CPU.
- A banner on every tab while the load generator, not the server, is the bottleneck
  (saturation.py): the figures on screen are then the load generator's.
- /connlab/summary (the text a headless run prints at its end),
  /connlab/latency.csv and /connlab/history.csv (the stats history Locust keeps for
  its charts, every few seconds), which `make load` fetches from the running master.
"""

import csv
import io
import json

from flask import Response, request
from locust.runners import MasterRunner

from . import precision, schedule
from .saturation import CPU_SATURATED_PERCENT, WATCH

BANNER = """
<div id="connlab-saturation" role="alert" style="display:none; position:fixed; bottom:0; left:0; right:0;
  z-index:2000; padding:8px 16px; background:#b71c1c; color:#fff; font:14px sans-serif; text-align:center"></div>
<script>
(function poll() {
  fetch("./connlab/load-generator").then(r => r.json()).then(status => {
    const banner = document.getElementById("connlab-saturation");
    banner.textContent = status.warning;
    banner.style.display = status.warning ? "block" : "none";
  }).catch(() => {}).finally(() => setTimeout(poll, 2000));
})();
</script>
"""


def alone(environment):
    return not isinstance(environment.runner, MasterRunner)


def cpu_figures(environment):
    """(process, its CPU now and at its peak this test) for each load generator process."""
    for name, now, peak in WATCH.processes(environment.runner):
        flag = " SATURATED" if peak >= CPU_SATURATED_PERCENT else ""
        yield f"CPU of {name}", f"{now:.0f}% of a core now, {peak:.0f}% at peak{flag}"


def summary(environment):
    """The end of a test, in words: latencies in ms, the schedule, the CPU verdict."""
    warning = WATCH.warning(environment.runner)
    return "\n".join([
        precision.table(environment.stats),
        schedule.TOTALS.summary(alone(environment)),
        *(f"load generator {name}: {figures}" for name, figures in cpu_figures(environment)),
        f"WARNING: {warning}" if warning else "load generator CPU stayed below saturation: the figures are the server's",
    ])


def extend(environment):
    web_ui = environment.web_ui
    web_ui.template_args["extended_tabs"] = [{"title": "Load generator", "key": "connlab-schedule"}]
    web_ui.template_args["extended_tables"] = [{
        "key": "connlab-schedule",
        "structure": [{"key": "name", "title": "Open-loop schedule"}, {"key": "value", "title": "Value"}],
    }]
    app = web_ui.app

    @app.after_request
    def add_to_pages(response):
        if request.path == "/stats/requests" and response.is_json:
            extended = [{"key": "connlab-schedule", "data": tab_rows(environment)}]
            response.set_data(json.dumps({**response.json, "extended_stats": extended}))
        elif request.path == "/" and response.mimetype == "text/html":
            response.set_data(response.get_data(as_text=True).replace("</body>", BANNER + "</body>", 1))
        return response

    @app.route("/connlab/load-generator")
    def load_generator():
        runner = environment.runner
        processes = [{"name": name, "cpu": now, "peak": peak} for name, now, peak in WATCH.processes(runner)]
        return {"warning": WATCH.warning(runner), "processes": processes, "threshold": CPU_SATURATED_PERCENT}

    @app.route("/connlab/summary")
    def text_summary():
        return Response(summary(environment) + "\n", mimetype="text/plain")

    @app.route("/connlab/latency.csv")
    def latency_csv():
        return Response(precision.csv_text(environment.stats), mimetype="text/csv")

    @app.route("/connlab/history.csv")
    def history_csv():
        return Response(history_text(environment.stats.history), mimetype="text/csv")


def history_text(history):
    """Locust's stats history ({"time": t, name: [t, value], ...} every few seconds) as
    CSV: a time column, then one column per figure."""
    names = list(dict.fromkeys(name for row in history for name in row if name != "time"))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["time", *names])
    for row in history:
        writer.writerow([row["time"], *(row[name][1] if name in row else "" for name in names)])
    return out.getvalue()


def tab_rows(environment):
    sent, late = schedule.TOTALS.current(alone(environment))
    return [
        {"name": "paced sends (Rate > 0, or idle mode)", "value": sent},
        {"name": f"sends more than {schedule.LATE_TOLERANCE_S * 1000:g} ms behind schedule", "value": late},
        {"name": "share behind schedule", "value": f"{100 * late / sent:.1f}%" if sent else "-"},
        *({"name": name, "value": figures} for name, figures in cpu_figures(environment)),
    ]
