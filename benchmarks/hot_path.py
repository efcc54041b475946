"""Where a request's microseconds go on the server, stage by stage, with the server's
own code: parse, execute, account, buffer the reply, the socket calls, and the
message-balancing hand-off. Each figure is the best of several timed runs (the least
disturbed by the shared machine), in microseconds per request.

    python benchmarks/hot_path.py [--json]   (bench-server runs it in each server image)
"""

import json
import socket
import sys
import timeit
from time import perf_counter_ns
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "services"))
from connlab import commands, interpreter, metrics  # noqa: E402
from connlab.config import Settings  # noqa: E402
from connlab.connection import Connection  # noqa: E402
from connlab.context import Context  # noqa: E402
from connlab.executor import Pooled  # noqa: E402
from connlab.reactor import Reactor  # noqa: E402
from connlab.tally import Board  # noqa: E402
from connlab.worker import WorkerPool, handle  # noqa: E402

PING = b"*1\r\n$4\r\nPING\r\n"


def per_request(statement, requests, number=2000, repeat=7):
    """Best-of-`repeat` microseconds per request of `statement`, which serves `requests`."""
    return min(timeit.repeat(statement, number=number, repeat=repeat)) / number / requests * 1e6


def context(recording=True):
    settings = Settings.from_env({"REQUEST_METRICS": "1" if recording else "0"})
    return Context(settings, metrics.Metrics("single-thread", Board(8, commands.METRIC_LABELS), recording))


def stages(depth):
    """Microseconds per request of each stage, `depth` requests per read."""
    data, requests = PING * depth, [[b"PING"]] * depth
    on, off = context(True), context(False)
    on_tally, off_tally = on.metrics.tally("0"), off.metrics.tally("0")
    conn = Connection(socket.socket(), on_tally, on.settings)
    parser, render = on.settings.protocol(on.settings.limits), on.settings.protocol.render
    replies = [render(commands.PONG)] * depth
    left, right = socket.socketpair()  # stands in for a TCP connection's two ends
    reply_bytes = replies[0] * depth

    def buffer_replies():
        conn.reply_all(replies)
        conn.collect_replies()
        conn.out.clear()

    def socket_calls():
        right.send(data)
        left.recv(65536)
        left.send(reply_bytes)
        right.recv(65536)

    table = commands.command_table()
    execute_off = per_request(lambda: handle(requests, 0, off_tally, off.settings, table, render), depth)
    figures = {
        "parse": per_request(lambda: parser.feed(data), depth),
        "execute": execute_off,
        "accounting": per_request(lambda: handle(requests, 0, on_tally, on.settings, table, render), depth) - execute_off,
        "buffer replies": per_request(buffer_replies, depth),
        "send+recv (both ends)": per_request(socket_calls, depth),
    }
    left.close(), right.close()
    return figures


def pool_accounting():
    """Microseconds a pool worker spends timing one request twice (its wait in the
    queue, its whole latency) and recording both."""
    worker, clock = context(True).metrics.tally("0"), perf_counter_ns

    def record():
        taken = clock()
        worker.request_done("PING", clock() - taken, taken - taken)

    return per_request(record, 1, number=100000)


def hand_off(count=20000, batch=100):
    """Microseconds per request through the message-balancing path and back: the I/O
    loop queues it, a pool worker executes it and fills its slot, the loop is woken
    through its pipe and collects the reply."""
    ctx = context(True)
    pool = WorkerPool(ctx, 2)
    pool.start()
    reactor = Reactor()
    conn = Connection(socket.socket(), ctx.metrics.tally("io"), ctx.settings)
    execute = Pooled(pool, conn.tally, reactor, Connection.collect_replies)
    best = float("inf")
    for _ in range(3):
        started = timeit.default_timer()
        for _ in range(count // batch):
            execute(conn, [[b"PING"]] * batch, 0)
            while conn.pending:
                reactor.run_once(1)  # woken by the workers through the reactor
            conn.out.clear()
        best = min(best, (timeit.default_timer() - started) / count * 1e6)
    return best


def main():
    by_depth = {"1": stages(1), "16": stages(16)}
    pooled = {"pool hand-off": hand_off(), "pool accounting": pool_accounting()}
    if "--json" in sys.argv:  # for bench_server.py, which sets the builds side by side
        flat = {f"{stage} ({depth} per read)": us for depth, found in by_depth.items() for stage, us in found.items()}
        print(json.dumps({"python": interpreter.version(), "by_depth": by_depth, "stages": {**flat, **pooled}}))
        return
    print(f"Python {interpreter.version()}, microseconds per request (best of 7)")
    print(f"{'stage':<24} {'1 per read':>11} {'16 per read':>12}")
    for stage, us in by_depth["1"].items():
        print(f"{stage:<24} {us:>11.2f} {by_depth['16'][stage]:>12.2f}")
    print(f"{'pool hand-off':<24} {pooled['pool hand-off']:>11.2f}   (message-balancing, hybrid: per request, on top)")
    print(f"{'pool accounting':<24} {pooled['pool accounting']:>11.2f}   (message-balancing, hybrid: per request, instead of 'accounting')")


if __name__ == "__main__":
    main()
