"""Prometheus sees every run: while cells run, it scrapes the run's server and its load
generator agents, each series labelled `run` (the run's folder name), `scenario`,
`target` (the design or reference), `arch` (the ARCH setting), `build` (3.13, 3.13t; not
`python`: connlab_server_info has its own, the full version) and `protocol` (resp,
http: what the load spoke), so the dashboards can show a comparison as it happens and
afterwards.

Which Prometheus: the stack's (`make up`), if it runs; else one started here on the
stack's data volume, stopped at the end (a later `make up` shows the run). The lab's
network is joined to it for the run; the targets are a file_sd file in the folder that
Prometheus mounts at TARGETS (prometheus/prometheus.yml, job connlab-compare),
rewritten as each cell starts. A cell shorter than a few scrapes could fall between two:
after each cell the runner waits until Prometheus holds a sample of it from every target
(at most WAIT seconds). The scrape costs the server a /metrics answer every 5 s;
`--prometheus off` runs without it.
"""

import json
import math
import os
import time
from pathlib import Path

from connlab.config import cpu_list

from . import containers, targets
from .lab import server_alias

TARGETS = "/etc/connlab/targets"  # where connlab's Prometheus image reads them
FOLDER = Path(__file__).resolve().parents[2] / "build/prometheus/targets"  # the stack mounts it there
AGENT_PORT = 9646
WAIT = 15  # seconds: three scrape intervals


def project():
    """The compose project's name, as compose takes it."""
    return os.environ.get("COMPOSE_PROJECT_NAME", "connlab")


def stack_prometheus():
    """The running stack's Prometheus container, or None."""
    found = containers.labelled(**{"com.docker.compose.project": project(), "com.docker.compose.service": "prometheus"})
    return found[0].name if found else None


def targets_folder(container):
    """The host folder `container` mounts at TARGETS, or None."""
    mounts = containers.get(container).attrs["Mounts"]
    return next((Path(m["Source"]) for m in mounts if m["Destination"] == TARGETS), None)


def cell_labels(run, cell):
    target = targets.get(cell.target)
    return {"run": run, "scenario": cell.scenario, "target": cell.target, "build": cell.python,
            "protocol": cell.protocol, "arch": target.arch or target.name}  # fmt: skip


def target_groups(lab, run, cell):
    """file_sd groups of a cell: the server by the cell's own name (where it has /metrics:
    a reference has none), and the agents, labelled with the cell. (The agents serve
    every cell: at a cell's edges, within Prometheus's discovery delay, their requests
    may count in the cell before or after.)"""
    labels, port = cell_labels(run, cell), targets.get(cell.target).metrics_port
    groups = [{"targets": [f"{agent.name}:{AGENT_PORT}" for agent in lab.agents], "labels": {**labels, "role": "loadgen"}}]
    if port:
        groups.append({"targets": [f"{lab.server_host(server_alias(cell))}:{port}"], "labels": {**labels, "role": "server"}})
    return groups


class Scrape:
    """`choice`: "auto", "off", or a Prometheus container's name (one that mounts TARGETS)."""

    def __init__(self, lab, run, choice="auto"):
        self.lab, self.run, self.choice = lab, run, choice
        self.container = self.file = None
        self.started = False  # whether the container is ours to stop
        self.cell, self.since = None, None  # the cell described last, and when (time.time())

    def __enter__(self):
        if self.choice == "off":
            return self
        self.container = stack_prometheus() if self.choice == "auto" else self.choice
        if self.container is None:
            self.container = self._start()
        folder = targets_folder(self.container)
        if folder is None:
            print(f"connlab: compare: Prometheus ({self.container}) mounts no {TARGETS}: it will not see this run "
                  "(a stack started by an older connlab: `make down && make up`)")  # fmt: skip
            self.container = None
            return self
        if not self.started:
            containers.connect(self.lab.network, self.container)
        self.file = folder / f"{self.lab.name}.json"
        where = "a Prometheus of its own, on the stack's data (make up shows it later)" if self.started \
            else f"the stack's Prometheus ({self.container})" if self.choice == "auto" else f"Prometheus {self.container}"
        print(f"connlab: compare: {where} scrapes this run: series labelled run=\"{self.run}\"")
        return self

    def _start(self):
        folder = FOLDER / self.lab.name  # its own: a stack's Prometheus reads FOLDER's files
        folder.mkdir(parents=True, exist_ok=True)
        volume = f"{project()}_prometheus-data"
        containers.volume(volume, {"com.docker.compose.project": project(), "com.docker.compose.volume": "prometheus-data"})
        name = f"{self.lab.name}-prometheus"
        containers.run(targets.image("prometheus"), name=name, network=self.lab.network, user="65534",
                       cpus=cpu_list(self.lab.loadgen_cpus), volumes={str(folder): (TARGETS, "ro"), volume: ("/prometheus", "rw")})  # fmt: skip
        self.started = True
        return name

    def describe(self, cell):
        """What runs from now on: the cell's targets, labelled (written whole, then renamed
        in, so Prometheus never reads half a file)."""
        if self.file is None:
            return
        self.cell, self.since = cell, time.time()
        partial = self.file.with_suffix(".tmp")
        partial.write_text(json.dumps(target_groups(self.lab, self.run, cell)))
        partial.chmod(0o644)  # Prometheus runs as nobody
        partial.rename(self.file)

    def wait_seen(self):
        """Until Prometheus holds a sample of the cell described last, since then, from
        every one of its targets: each agent's requests and the server's."""
        if self.cell is None:
            return
        cell = self.cell
        served = bool(targets.get(cell.target).metrics_port)  # the server's own count, where it has /metrics
        metrics = "connlab_loadgen_requests_total" + ("|connlab_requests_total" if served else "")
        selector = ", ".join(f'{key}="{value}"' for key, value in cell_labels(self.run, cell).items() if key != "arch")
        expected = len(self.lab.agents) + served
        deadline = time.monotonic() + WAIT
        while True:
            window = math.ceil(time.time() - self.since) + 1
            seen = self.query(f'count(count by (instance) (count_over_time({{__name__=~"{metrics}", {selector}}}[{window}s])))')
            if seen >= expected:
                return
            if time.monotonic() > deadline:
                print(f"\nconnlab: compare: Prometheus holds {seen:.0f} of the {expected} targets of {cell.target} "
                      f"({cell.python}) in {cell.scenario} after waiting {WAIT} s")  # fmt: skip
                return
            time.sleep(1)

    def query(self, expr):
        """An instant query's single number (0 for no result), asked inside the container."""
        try:
            status, out = containers.execute(self.container, ["promtool", "query", "instant", "-o", "json",
                                                              "http://127.0.0.1:9090", expr], stderr=False)  # fmt: skip
        except containers.ContainerError:
            return 0
        if status:
            return 0
        result = json.loads(out or "[]")
        return float(result[0]["value"][1]) if result else 0

    def __exit__(self, *exc):
        if self.file is not None:
            self.file.unlink(missing_ok=True)
        if self.container is None:
            return
        try:
            if self.started:  # SIGTERM: it writes its head block's journal before it stops
                containers.stop(self.container, timeout=30)
                self.file.parent.rmdir()
            else:
                containers.disconnect(self.lab.network, self.container)
        except containers.ContainerError as error:
            print(f"connlab: compare: {error}")
