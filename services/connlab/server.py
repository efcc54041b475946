"""Start a server: settings in, an architecture serving on its port, /metrics beside it."""

import logging
import signal
import sys

from . import architectures, metrics
from .listener import open_listener
from .supervisor import run_processes
from .worker import Context

log = logging.getLogger("connlab")


def new_context(settings):
    return Context(settings, metrics.Metrics(settings.arch))


def serve(settings):
    """Serve forever with the architecture `settings.arch` names."""
    metrics.reset_multiprocess_dir()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    def start_metrics(ctx, listeners):
        metrics.serve_metrics(settings.metrics_port, ctx.metrics, metrics.ServerCollector(settings, listeners))

    log.info("serving %s on %s:%d, metrics on :%d", settings.describe(), settings.host, settings.port, settings.metrics_port)
    if settings.arch in architectures.MULTI_PROCESS:
        wiring = architectures.MULTI_PROCESS[settings.arch]
        count = settings.workers if settings.arch == "socket-sharding" else settings.processes
        run_processes(
            settings,
            count,
            serve=lambda index, listener: wiring(new_context(settings), index, listener),
            start_metrics=lambda listeners: start_metrics(new_context(settings), listeners),
        )
    else:
        ctx = new_context(settings)
        listener = open_listener(settings.host, settings.port, settings.backlog)
        start_metrics(ctx, {"0": listener})
        architectures.SINGLE_PROCESS[settings.arch](ctx, listener)
