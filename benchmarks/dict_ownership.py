"""Why the servers copy their read-only tables per thread (services/connlab/ownership.py):
what one lookup costs in a dict the reading thread made, and in one that another thread
made, on the interpreter that runs this (run it in both server images).

    docker run --rm -v $PWD/benchmarks:/b connlab/server:latest-3.13t python /b/dict_ownership.py
"""

import sys
import sysconfig
import threading
import time

TABLE = {b"*%d" % n: n for n in range(1, 17)}  # made by the main thread


def get(table, n=20000):
    key, started = b"*1", time.perf_counter()
    for _ in range(n):
        table.get(key)
    return (time.perf_counter() - started) / n * 1e9


def subscript(table, n=20000):
    key, started = b"*1", time.perf_counter()
    for _ in range(n):
        table[key]
    return (time.perf_counter() - started) / n * 1e9


def main():
    figures = {}

    def in_a_thread():
        figures["another thread's dict, .get()"] = get(TABLE)
        figures["another thread's dict, [key]"] = subscript(TABLE)
        own = dict(TABLE)
        figures["its own dict, .get()"] = get(own)
        figures["its own dict, [key]"] = subscript(own)

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join()
    build = "free-threaded" if sysconfig.get_config_var("Py_GIL_DISABLED") else "with the GIL"
    print(f"Python {sys.version.split()[0]} ({build}): ns per lookup by a second thread")
    for what, nanoseconds in figures.items():
        print(f"  {what:<34} {nanoseconds:>10.0f}")


if __name__ == "__main__":
    main()
