"""Start a server: settings in, an architecture serving on its port, /metrics beside it."""

import logging

from . import architectures, commands, metrics
from .context import ConnectionLimit, Context
from .listener import open_listener
from .supervisor import run_processes
from .tally import Board

log = logging.getLogger("connlab")


def serve(settings):
    """Serve with the architecture `settings.arch` names until SIGTERM has drained it."""
    limit = ConnectionLimit(settings.max_connections)  # shared by forked workers
    # Every thread that may serve a connection has a slot: up to one per connection,
    # plus the event loops, workers and acceptors of every process.
    board = Board(settings.max_connections + 64 + 4 * settings.workers * settings.processes, commands.METRIC_LABELS)

    def context(listener):
        """What one serving process shares (in a multi-process server, made after fork)."""
        ctx = Context(settings, metrics.Metrics(settings.arch, board, settings.request_metrics), limit)
        ctx.add_listener(listener)
        ctx.stop_on_sigterm()
        return ctx

    def start_metrics(listeners, loops=()):
        collectors = metrics.RequestCollector(settings.arch, board), metrics.ServerCollector(settings, listeners, loops)
        metrics.serve_metrics(settings.metrics_port, *collectors)

    log.info("serving %s on %s:%d, metrics on :%d", settings.describe(), settings.host, settings.port, settings.metrics_port)
    design = settings.design
    wiring = architectures.wiring(design)
    if design.processes:
        run_processes(
            settings,
            getattr(settings, design.processes.lower()),
            serve=lambda index, listener: wiring(context(listener), index, listener),
            start_metrics=start_metrics,
            board=board,
        )
    else:
        listener = open_listener(settings.host, settings.port, settings.backlog)
        ctx = context(listener)
        start_metrics({"0": listener}, ctx.loops)
        wiring(ctx, listener)
    log.info("stopped")
