"""Where a request's microseconds go on the server, stage by stage, with the server's
own code: parse, execute, account, buffer the reply, the socket calls, and the
message-balancing hand-off. Each figure is the best of several timed runs (the least
disturbed by the shared machine), in microseconds per request.

    [PROTOCOL=http] python benchmarks/hot_path.py [--json]   (bench-server runs it in each server image)

With PROTOCOL=http it also times the HTTP parsers the server could use (httptools, which
it runs, and h11 where importable: PYTHONPATH=<h11 wheel> adds it, being pure Python).
"""

import json
import os
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

# The request each protocol's stages are timed with (PROTOCOL picks): PING, or GET /ping.
PING = {"resp": b"*1\r\n$4\r\nPING\r\n", "http": b"GET /ping HTTP/1.1\r\nHost: lab\r\n\r\n"}


PROTOCOL = os.environ.get("PROTOCOL") or "resp"


def per_request(statement, requests, number=2000, repeat=7):
    """Best-of-`repeat` microseconds per request of `statement`, which serves `requests`."""
    return min(timeit.repeat(statement, number=number, repeat=repeat)) / number / requests * 1e6


def context(recording=True):
    settings = Settings.from_env({"REQUEST_METRICS": "1" if recording else "0", "PROTOCOL": PROTOCOL})
    return Context(settings, metrics.Metrics("single-thread", Board(8, commands.METRIC_LABELS), recording))


def stages(depth):
    """Microseconds per request of each stage, `depth` requests per read."""
    on, off = context(True), context(False)
    on_tally, off_tally = on.metrics.tally("0"), off.metrics.tally("0")
    conn = Connection(socket.socket(), on_tally, on.settings)
    parser, render = on.settings.protocol(on.settings.limits), on.settings.protocol.render
    data = PING[PROTOCOL] * depth
    requests = parser.feed(data)
    replies = [render(commands.PONG, request) for request in requests]
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


def http_parsers(depth=1):
    """Microseconds per GET /ping of each HTTP parser the server could use, from bytes in
    to reply bytes out: httptools with this protocol module (what the server runs), and
    h11 where it is importable (pure Python; its state machine wants each reply sent
    before it reads the next request, so its figure includes writing that reply)."""
    from connlab.protocols.http import Http

    data, parser = PING["http"] * depth, Http()
    figures = {"httptools": per_request(lambda: [Http.render(commands.PONG, r) for r in parser.feed(data)], depth)}
    try:
        import h11
    except ImportError:
        return figures
    conn, headers = h11.Connection(h11.SERVER), [("Content-Type", "text/plain"), ("Content-Length", "4")]

    def h11_round():
        conn.receive_data(data)
        while type(conn.next_event()) is not h11.EndOfMessage:
            pass
        b"".join((conn.send(h11.Response(status_code=200, headers=headers)), conn.send(h11.Data(data=b"PONG")),
                  conn.send(h11.EndOfMessage())))
        conn.start_next_cycle()

    figures["h11"] = per_request(h11_round, 1)
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
            execute(conn, [conn.protocol.feed(PING[PROTOCOL])[0]] * batch, 0)
            while conn.pending:
                reactor.run_once(1)  # woken by the workers through the reactor
            conn.out.clear()
        best = min(best, (timeit.default_timer() - started) / count * 1e6)
    return best


def main():
    by_depth = {"1": stages(1), "16": stages(16)}
    pooled = {"pool hand-off": hand_off(), "pool accounting": pool_accounting()}
    parsers = http_parsers() if PROTOCOL == "http" else {}
    if "--json" in sys.argv:  # for bench_server.py, which sets the builds side by side
        flat = {f"{stage} ({depth} per read)": us for depth, found in by_depth.items() for stage, us in found.items()}
        parsed = {f"parse+render with {name}": us for name, us in parsers.items()}
        print(json.dumps({"python": interpreter.version(), "protocol": PROTOCOL, "by_depth": by_depth,
                          "stages": {**flat, **pooled, **parsed}}))
        return
    print(f"Python {interpreter.version()}, {PROTOCOL}, microseconds per request (best of 7)")
    print(f"{'stage':<24} {'1 per read':>11} {'16 per read':>12}")
    for stage, us in by_depth["1"].items():
        print(f"{stage:<24} {us:>11.2f} {by_depth['16'][stage]:>12.2f}")
    print(f"{'pool hand-off':<24} {pooled['pool hand-off']:>11.2f}   (message-balancing, hybrid: per request, on top)")
    print(f"{'pool accounting':<24} {pooled['pool accounting']:>11.2f}   (message-balancing, hybrid: per request, instead of 'accounting')")
    for name, us in parsers.items():
        print(f"{'parse+render, ' + name:<24} {us:>11.2f}   (GET /ping, bytes in to reply out)")


if __name__ == "__main__":
    main()
