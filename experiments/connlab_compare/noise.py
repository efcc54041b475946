"""The machine's noise: how much of the server's CPUs went to anything but the lab.

Over a point's measurement the kernel's per-CPU counters (/proc/stat) say how long the
hypervisor took the server's CPUs (steal) and how long they ran user code; each
container's CPU accounting (its cgroup) says how much of that user time was the
server's and the lab's own clients'. The rest of the user time is other processes': the
Docker daemon, a neighbour's burner, the host's work. Kernel time is left out on both
sides: the load's own network work lands there, in the server's threads and outside
them (an accept storm's connection set-up and tear-down kept up to a quarter of a CPU
busy outside any thread of the server), and no cgroup can say whose it was.
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
CGROUP = Path("/sys/fs/cgroup")
# Where a container's CPU time is: cgroup v1's cpuacct.usage (ns; cpuacct.stat beside it
# holds user ticks) or v2's cpu.stat (usage_usec, user_usec), for the cgroupfs and
# systemd drivers.
USAGE_FILES = ("cpuacct/docker/{id}/cpuacct.usage", "cpu,cpuacct/docker/{id}/cpuacct.usage",
               "docker/{id}/cpu.stat", "system.slice/docker-{id}.scope/cpu.stat")  # fmt: skip
# A point is measured again when other processes took more than OTHERS of the server's
# CPUs, or they and the hypervisor together more than NOISY (docs/experiments.md: why).
OTHERS, NOISY = 0.20, 0.50


@dataclass(frozen=True)
class Snapshot:
    at: float  # time.monotonic()
    wall: float  # time.time(): when, for a reader of the journal
    user: float  # CPU-seconds the CPUs ran user code
    steal: float  # CPU-seconds the hypervisor took them
    usage: dict  # {container id: (CPU-seconds, of them in user code)}, None where unreadable


def cpu_times(cpus, text=None):
    """(user, steal) CPU-seconds of `cpus` since boot, from /proc/stat."""
    user = steal = 0.0
    for line in (text if text is not None else Path("/proc/stat").read_text()).splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            user += (int(fields[0]) + int(fields[1])) / TICK  # user and nice (guest time is within them)
            steal += int(fields[7]) / TICK
    return user, steal


def usage_file(container_id, root=CGROUP):
    """The file that accounts a container's CPU time, or None where none is readable."""
    return next((root / pattern.format(id=container_id) for pattern in USAGE_FILES
                 if (root / pattern.format(id=container_id)).exists()), None)  # fmt: skip


def usage(path):
    """(CPU-seconds, of them in user code) of a container; None without its accounting."""
    if path is None:
        return None
    try:
        if path.name == "cpu.stat":
            fields = dict(line.split() for line in path.read_text().splitlines() if line.strip())
            return int(fields["usage_usec"]) / 1e6, int(fields["user_usec"]) / 1e6
        ticks = dict(line.split() for line in (path.parent / "cpuacct.stat").read_text().splitlines())
        return int(path.read_text()) / 1e9, int(ticks["user"]) / TICK
    except OSError:  # the container has gone
        return None


def snapshot(cpus, files, stat=None):
    """The counters of `cpus` and of the containers in `files` ({id: path, or a function
    giving usage()'s figures}) now; `stat`: a function giving /proc/stat's text where it
    is another machine's."""
    user, steal = cpu_times(cpus, stat() if stat else None)
    return Snapshot(time.monotonic(), time.time(), user, steal,
                    {cid: path() if callable(path) else usage(path) for cid, path in files.items()})  # fmt: skip


def between(before, after, cpus, server, loaded=None):
    """The noise figures of a point: `server` is the server's container id; every other
    container in the snapshots is the lab's own client sharing the server's CPUs.
    `server_cpu` is the server's CPU time over the `loaded` seconds (the C client's own
    run), else over the whole window."""
    seconds, capacity = after.at - before.at, len(cpus) * (after.at - before.at)
    spent = {cid: [a - b for a, b in zip(after.usage[cid], before.usage[cid])] for cid in after.usage
             if after.usage.get(cid) is not None and before.usage.get(cid) is not None}  # fmt: skip
    steal = after.steal - before.steal
    figures = {"started_at": round(before.wall, 2), "window_s": round(seconds, 2),
               "server_cpu": round(spent[server][0] / min(loaded or seconds, seconds), 3) if server in spent else None,
               "steal_share": round(steal / capacity, 4) if capacity else None}  # fmt: skip
    if server in spent and capacity:
        others = max(0.0, after.user - before.user - sum(user for _, user in spent.values()))
        figures["others_share"] = round(others / capacity, 4)
        figures["noise"] = round((others + steal) / capacity, 4)
    else:  # without the server's own accounting only the hypervisor's share is known
        figures["others_share"] = None
        figures["noise"] = figures["steal_share"]
    return figures


def noisy(figures, others=OTHERS, threshold=NOISY):
    return (figures.get("others_share") or 0.0) > others or (figures.get("noise") or 0.0) > threshold
