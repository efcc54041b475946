"""Start a server: settings in, an architecture serving on its port, /metrics beside it."""

import logging

from . import architectures, metrics
from .context import ConnectionLimit, Context
from .listener import open_listener
from .supervisor import run_processes

log = logging.getLogger("connlab")


def serve(settings):
    """Serve with the architecture `settings.arch` names until SIGTERM has drained it."""
    metrics.reset_multiprocess_dir()
    limit = ConnectionLimit(settings.max_connections)  # shared by forked workers

    def context(listener=None):
        ctx = Context(settings, metrics.Metrics(settings.arch), limit)
        if listener is not None:  # a serving process, not the multi-process master
            ctx.add_listener(listener)
            ctx.stop_on_sigterm()
        return ctx

    def start_metrics(ctx, listeners):
        metrics.serve_metrics(settings.metrics_port, ctx.metrics, metrics.ServerCollector(settings, listeners))

    log.info("serving %s on %s:%d, metrics on :%d", settings.describe(), settings.host, settings.port, settings.metrics_port)
    if settings.arch in architectures.MULTI_PROCESS:
        wiring = architectures.MULTI_PROCESS[settings.arch]
        run_processes(
            settings,
            settings.workers if settings.arch == "socket-sharding" else settings.processes,
            serve=lambda index, listener: wiring(context(listener), index, listener),
            start_metrics=lambda listeners: start_metrics(context(), listeners),
        )
    else:
        listener = open_listener(settings.host, settings.port, settings.backlog)
        ctx = context(listener)
        start_metrics(ctx, {"0": listener})
        architectures.SINGLE_PROCESS[settings.arch](ctx, listener)
    log.info("stopped")
