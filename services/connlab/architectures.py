"""The six architectures: the same parts (listener, acceptor, reader, worker,
dispatcher), wired differently. Each function serves until the server is stopped
(SIGTERM) and has drained."""

import threading

from .acceptor import accept_forever
from .blocking_reader import serve_connection
from .dispatcher import POLICIES, ThreadPerConnection
from .reader import EventLoop
from .worker import WorkerPool


def _start(targets):
    threads = [threading.Thread(target=target, args=args, daemon=True) for target, *args in targets]
    for thread in threads:
        thread.start()
    return threads


def _join(threads, ctx):
    """Wait for the threads to drain after ctx.stop() (loops bound it by the grace)."""
    for thread in threads:
        thread.join(ctx.settings.shutdown_grace + 1)


def single_thread(ctx, listener, name="0"):
    """One thread listens, accepts, reads, parses, works and writes (Node.js)."""
    loop = EventLoop(name, ctx)
    loop.watch_listener(listener)
    loop.run()


def single_acceptor(ctx, listener):
    """One acceptor thread hands connections to workers (memcached)."""
    threads = []
    acceptor = ctx.metrics.tally("acceptor", role=0)
    if ctx.settings.design.blocking:
        hand_off = ThreadPerConnection(ctx, acceptor)
    else:
        loops = [EventLoop(str(i), ctx) for i in range(ctx.settings.workers)]
        threads = _start((loop.run,) for loop in loops)
        hand_off = POLICIES[ctx.settings.dispatch](loops)
    accept_forever(listener, hand_off, ctx, acceptor)
    _join(threads, ctx)
    ctx.wait_for_blocking_readers(ctx.settings.shutdown_grace)


def multi_acceptor(ctx, listener):
    """Every worker accepts from the one shared listening socket."""
    workers = range(ctx.settings.workers)
    if ctx.settings.design.blocking:
        # Each thread accepts, serves that connection to its end, then accepts again.
        threads = _start((_accept_and_serve, listener, str(i), ctx) for i in workers)
    else:
        loops = [EventLoop(str(i), ctx) for i in workers]
        for loop in loops:
            loop.watch_listener(listener, exclusive=ctx.settings.accept_mode == "exclusive")
        threads = _start((loop.run,) for loop in loops)
    ctx.stopping.wait()
    _join(threads, ctx)


def _accept_and_serve(listener, name, ctx):
    counts = ctx.metrics.tally(name)
    accept_forever(listener, lambda sock: serve_connection(sock, counts, ctx), ctx, counts)


def message_balancing(ctx, listener, prefix=""):
    """One I/O thread reads and parses; requests, not connections, go to workers."""
    pool = WorkerPool(ctx, ctx.settings.workers, prefix)
    pool.start()
    loop = EventLoop(f"{prefix}io", ctx, pool)
    loop.watch_listener(listener)
    loop.run()


def socket_sharding_process(ctx, index, listener):
    """One of several processes, each with its own SO_REUSEPORT socket (NGINX)."""
    single_thread(ctx, listener, name=str(index))


def hybrid_process(ctx, index, listener):
    """Socket sharding across processes, message balancing inside each."""
    message_balancing(ctx, listener, prefix=f"p{index}-")


def wiring(design):
    """The function that wires `design` (its record names it)."""
    return globals()[design.wiring]
