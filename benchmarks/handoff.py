"""make bench-handoff: the hand-off of message balancing, between bare threads, while
other threads compute on the same CPU, in each server build. None of connlab's code:
what the interpreter and the kernel do by themselves.

A producer puts 1000 items a second on a queue.SimpleQueue; CONSUMERS threads take them
and put them on a second queue, which a collector drains, timing each item's round
trip: a request's path through message-balancing (reader, worker, reader). Two threads
compute meanwhile, in 5 ms busy loops, as WORK 5000us does. With the GIL the
interpreter's switch interval (5 ms) decides which thread runs Python; without it the
kernel's scheduler decides, and each computing thread is one more ahead of the
hand-off's threads in the run queue, unless it runs at a higher nice value.
A benchmark, not a test: it prints figures and asserts nothing.

    python benchmarks/handoff.py [--pythons 3.13,3.13t] [--cpu 1]   (runs itself in each server image)
"""

import argparse
import os
import queue
import sys
import threading
import time
from pathlib import Path

RATE, SECONDS, COMPUTING = 1000, 6.0, 2


def compute(nice, stop):
    if nice:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    while not stop.is_set():
        deadline = time.thread_time_ns() + 5_000_000
        while time.thread_time_ns() < deadline:
            pass


def consume(jobs, done):
    while (item := jobs.get()) is not None:
        done.put(item)


def collect(done, found):
    while (item := done.get()) is not None:
        found.append(time.perf_counter() - item)


def measure(consumers, nice):
    """Round trips in ms, sorted, of items put at RATE for SECONDS."""
    stop, jobs, done, found = threading.Event(), queue.SimpleQueue(), queue.SimpleQueue(), []
    threads = [threading.Thread(target=compute, args=(nice, stop)) for _ in range(COMPUTING)]
    threads += [threading.Thread(target=consume, args=(jobs, done)) for _ in range(consumers)]
    collector = threading.Thread(target=collect, args=(done, found))
    for thread in [*threads, collector]:
        thread.start()
    start = time.perf_counter()
    for k in range(int(RATE * SECONDS)):
        while time.perf_counter() < start + k / RATE:
            time.sleep(0.0002)
        jobs.put(time.perf_counter())
    stop.set()
    for _ in range(consumers):
        jobs.put(None)
    for thread in threads:
        thread.join()
    done.put(None)
    collector.join()
    return sorted(ms * 1000 for ms in found)


def inside():
    build = sys.version.split()[0] + ("" if getattr(sys, "_is_gil_enabled", lambda: True)() else "t")
    for consumers in (2, 4, 8):
        for nice in (0, 10):
            found = measure(consumers, nice)
            n = len(found)
            print(f"{build:<8} {consumers:>9} {nice:>14} {found[n // 2]:>8.2f} {found[int(n * 0.99)]:>8.2f} {found[-1]:>8.1f}",
                  flush=True)  # fmt: skip


def main():
    if "--inside" in sys.argv:
        return inside()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pythons", default="3.13,3.13t", help="server builds: 3.13, 3.13t or both")
    parser.add_argument("--cpu", default=os.environ.get("SERVER_CPU", "1"), help="the one CPU everything runs on")
    args = parser.parse_args()
    print(f"Round trip through two queues at {RATE}/s beside {COMPUTING} computing threads, one CPU ({args.cpu}), "
          f"ms; ratios only within one run (a shared machine)")  # fmt: skip
    print(f"{'build':<8} {'consumers':>9} {'computing nice':>14} {'p50':>8} {'p99':>8} {'max':>8}", flush=True)
    here = Path(__file__).resolve()
    # On the host only: inside, the image has no checkout.
    sys.path[:0] = [str(here.parent.parent / "services"), str(here.parent.parent / "experiments")]
    from connlab.config import server_image
    from connlab_compare import containers, targets

    for python in args.pythons.split(","):
        image = server_image(python, targets.tag())
        status, output = containers.run_to_end(image, ["/bench/handoff.py", "--inside"], entrypoint="python", cpus=args.cpu,
                                               volumes={str(here): ("/bench/handoff.py", "ro")})  # fmt: skip
        print(output, end="", flush=True)
        if status:
            sys.exit(f"bench-handoff: {image} exited {status}")


if __name__ == "__main__":
    main()
