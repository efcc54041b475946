"""Where the server's threads spent a step, from the kernel's scheduler statistics.

/proc/<pid>/task/<tid>/schedstat holds three counters per thread (the kernel's
sched-stats documentation): nanoseconds on a CPU, nanoseconds runnable but waiting in
a run queue for a CPU, and how many times it was put on a CPU. Read in the server's
container before and after a step, per thread name (services/connlab/threads.py),
they say which thread waits and for what: waiting in the run queue is waiting for a
CPU; off the CPU and not runnable is waiting for something else (a socket, a queue,
or with the GIL the interpreter). Threads of no named role are "other": the main
thread (the single acceptor's, where a design has one) and the metrics server's.
"""

import re

# One line per thread: "<pid>/task/<tid> <name> <nice> <on-CPU ns> <run-queue ns> <slices>"
# (nice: field 19 of its stat, the 17th after the name's closing parenthesis).
READ = ('for t in /proc/[0-9]*/task/[0-9]*; do case $t in /proc/$$/*) continue;; esac; '  # not this shell
        'printf "%s %s %s %s\\n" "${t#/proc/}" "$(cat $t/comm)" '
        '"$(sed "s/.*) //" $t/stat | cut -d" " -f17)" "$(cat $t/schedstat)"; done 2>/dev/null')  # fmt: skip
ROLES = (("loop-(p[0-9]+-)?io$", "I/O thread"), ("worker-", "workers"), ("loop-", "event loops"),
         ("connection$", "connection threads"))


def parse(text):
    """{thread: (name, nice, on-CPU ns, run-queue ns, slices)} of READ's output."""
    found = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 6 and all(p.lstrip("-").isdigit() for p in parts[2:]):
            found[parts[0]] = (parts[1], *map(int, parts[2:]))
    return found


def role(name):
    return next((title for pattern, title in ROLES if re.match(pattern, name)), "other")


def per_role(before, after, seconds):
    """{role: {"cpu_ms": on a CPU, "runq_ms": waiting for one, both per second of the
    step, "delay_us": mean wait per time on a CPU, "threads": how many, "nice": the
    highest nice value among them}} for the threads alive at the end (one that started
    during the step counts from zero)."""
    sums = {}
    for thread, (name, nice, cpu, wait, slices) in after.items():
        _, _, cpu0, wait0, slices0 = before.get(thread, (name, nice, 0, 0, 0))
        total = sums.setdefault(role(name), [0, 0, 0, 0, nice])
        for i, value in enumerate((cpu - cpu0, wait - wait0, slices - slices0, 1)):
            total[i] += value
        total[4] = max(total[4], nice)
    return {name: {"cpu_ms": cpu / seconds / 1e6, "runq_ms": wait / seconds / 1e6,
                   "delay_us": wait / slices / 1e3 if slices else 0.0, "threads": count, "nice": nice}
            for name, (cpu, wait, slices, count, nice) in sums.items()}  # fmt: skip
