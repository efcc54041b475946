"""The machine's noise: how much of the server's CPUs went to anything but the lab.

Over a point's measurement the kernel's per-CPU counters (/proc/stat) say how long the
server's CPUs were busy and how long the hypervisor took them (steal); each container's
CPU accounting (its cgroup) says how much of that busy time was the server's and the
lab's own clients'. What is left is noise: other processes, the host's daemons, the
hypervisor. Interrupt time is not noise: it is the load's own network work, and the
kernel charges it to no one.
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
CGROUP = Path("/sys/fs/cgroup")
# Where a container's CPU time is, as ns (cgroup v1's cpuacct.usage) or as µs (v2's
# cpu.stat usage_usec), for the cgroupfs and systemd drivers.
USAGE_FILES = ("cpuacct/docker/{id}/cpuacct.usage", "cpu,cpuacct/docker/{id}/cpuacct.usage",
               "docker/{id}/cpu.stat", "system.slice/docker-{id}.scope/cpu.stat")  # fmt: skip
NOISY = 0.10  # a point whose CPUs lost this share to noise is measured again (docs/experiments.md)


@dataclass(frozen=True)
class Snapshot:
    at: float  # time.monotonic()
    wall: float  # time.time(): when, for a reader of the journal
    busy: float  # CPU-seconds the CPUs ran anything but idle and interrupts
    steal: float  # CPU-seconds the hypervisor took them
    usage: dict  # {container id: CPU-seconds}, None where unreadable


def cpu_times(cpus, text=None):
    """(busy, steal) CPU-seconds of `cpus` since boot, from /proc/stat."""
    busy = steal = 0.0
    for line in (text if text is not None else Path("/proc/stat").read_text()).splitlines():
        name, *fields = line.split()
        if not (name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus):
            continue
        user, nice, system, _idle, _iowait, _irq, _softirq, stolen = (int(f) for f in fields[:8])
        busy += (user + nice + system) / TICK  # guest time is counted within user
        steal += stolen / TICK
    return busy, steal


def usage_file(container_id, root=CGROUP):
    """The file that accounts a container's CPU time, or None where none is readable."""
    return next((root / pattern.format(id=container_id) for pattern in USAGE_FILES
                 if (root / pattern.format(id=container_id)).exists()), None)  # fmt: skip


def usage(path):
    """A container's CPU-seconds from its accounting file; None without one."""
    if path is None:
        return None
    try:
        text = path.read_text()
    except OSError:  # the container has gone
        return None
    if path.name == "cpu.stat":
        fields = dict(line.split() for line in text.splitlines() if line.strip())
        return int(fields["usage_usec"]) / 1e6
    return int(text) / 1e9


def snapshot(cpus, files):
    """The counters of `cpus` and of the containers in `files` ({id: path}) now."""
    busy, steal = cpu_times(cpus)
    return Snapshot(time.monotonic(), time.time(), busy, steal, {cid: usage(path) for cid, path in files.items()})


def between(before, after, cpus, server, loaded=None):
    """The noise figures of a point: `server` is the server's container id; every other
    container in the snapshots is the lab's own client sharing the server's CPUs.
    `server_cpu` is the server's CPU time over the `loaded` seconds (the client's warm-up
    and measurement), else over the whole window (which also holds the lab's requests
    to start and stop the clients, when the server idles)."""
    seconds, capacity = after.at - before.at, len(cpus) * (after.at - before.at)
    spent = {cid: after.usage[cid] - before.usage[cid] for cid in after.usage
             if after.usage.get(cid) is not None and before.usage.get(cid) is not None}  # fmt: skip
    steal = after.steal - before.steal
    busy = after.busy - before.busy
    figures = {"started_at": round(before.wall, 2), "window_s": round(seconds, 2),
               "server_cpu": round(spent[server] / min(loaded or seconds, seconds), 3) if server in spent else None,
               "steal_share": round(steal / capacity, 4) if capacity else None}  # fmt: skip
    if server in spent and capacity:
        others = max(0.0, busy - sum(spent.values()))
        figures["others_share"] = round(others / capacity, 4)
        figures["noise"] = round((others + steal) / capacity, 4)
    else:  # without the server's own accounting only the hypervisor's share is known
        figures["others_share"] = None
        figures["noise"] = figures["steal_share"]
    return figures


def noisy(figures, threshold=NOISY):
    return (figures.get("noise") or 0.0) > threshold
