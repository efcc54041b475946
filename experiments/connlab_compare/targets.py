"""Everything the lab can put under load, as one kind of record: a target is either a
design of connlab's (a record of connlab.designs, run on a server build) or a reference,
a real server beside them for scale. References are folders, references/<name>/, each
with its Dockerfile (scripts/images.sh builds connlab/<name> from it), its config and its
record, reference.toml: adding a reference is adding a folder. CONNLAB_REFERENCES names
another folder of them (the tests' own).

The lab, the runner, the scrape and the benchmarks read what differs between targets
here: how to run one, its port, what it can tell of itself, what it cannot be asked.
"""

import functools
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from connlab import designs, protocols
from connlab.config import server_image, variants

DIRECTORY = Path(__file__).resolve().parents[2] / "references"
PYTHONS = ("3.13", "3.13t")  # the server builds a design runs on
SERVER_PORT, METRICS_PORT = 7000, 8000
HEALTHCHECK = ("python", "-m", "connlab.healthcheck")


def tag():
    return os.environ.get("CONNLAB_TAG", "latest")


def image(name):
    """connlab's image `name` (a reference's folder, the load generator) at the lab's tag."""
    return f"connlab/{name}:{tag()}"


@dataclass(frozen=True)
class Target:
    name: str  # in TARGETS=, results.json's `target` and the labels
    label: str  # how the reports name it
    port: int
    ready: tuple  # run in its container: succeeds once it serves
    build: str | None = None  # its rows' build column; None: the server build it runs on
    arch: str | None = None  # a design's ARCH setting
    env: dict = field(default_factory=dict)  # settings it runs with
    image: str | None = None  # a reference's image, connlab/<image>:<tag>; None: connlab's server
    protocols: tuple = ("resp",)
    dialect: str | None = None  # the load generator's wire dialect for it (None: connlab's)
    probe: str | None = None  # a command it answers about itself (memory), where it has no /metrics
    metrics_port: int | None = None  # its /metrics, the figures a theory or a spread reads
    cannot: tuple = ()  # connlab commands it has no equivalent of (a step that sends one is not run)
    per_worker: bool = False  # counts per worker, as a `spread` scenario reads them
    settings: tuple = ()  # a reference's: the lab's settings it takes (WORKERS: its worker count)
    traced: bool = False  # its threads' scheduler counters mean something (connlab's named threads)
    policy: bool = False  # a balancing policy: run where a scenario asks for policies

    @property
    def reference(self):
        return self.image is not None

    def builds(self, pythons):
        return [self.build] if self.build else list(pythons)

    def run_spec(self, python, settings=None):
        """(image, environment) of a container running it on `python` with `settings`."""
        if self.reference:
            return image(self.image), {**self.env, **{k: v for k, v in (settings or {}).items() if k in self.settings}}
        return server_image(python, tag()), {"ARCH": self.arch, **self.env, **(settings or {})}

    def scrape_source(self, host="target"):
        """Where the load generator reads what it says of itself: its /metrics, or its probe."""
        if self.metrics_port:
            return f"http://{host}:{self.metrics_port}/metrics"
        return f"tcp://{host}:{self.port} {self.probe}" if self.probe else None

    def runs(self, scenario, step):
        """Whether it can run `step` of `scenario`: it speaks the scenario's protocol, every
        command the step sends has an equivalent, and the figures the scenario reads of
        the server exist."""
        if scenario.protocol not in self.protocols:
            return False
        if scenario.server_figures == "spread" and not self.per_worker:
            return False
        mixes = (group.get("parameters", {}).get("mix", "PING:1") for group in step.groups)
        sent = {item.split(":")[0] for mix in mixes for item in mix.split(",")}
        return not sent & set(self.cannot)


def design_targets():
    policies = {design.name for design in designs.DESIGNS if design.policy}
    spoken = tuple(protocols.PROTOCOLS)  # every design speaks every protocol the server has (PROTOCOL=)
    return {name: Target(name, name, SERVER_PORT, HEALTHCHECK, arch=arch, env=env, metrics_port=METRICS_PORT,
                         per_worker=True, traced=True, policy=name in policies, protocols=spoken)
            for name, (arch, env) in variants().items()}  # fmt: skip


def reference(folder):
    """The references of a folder, from its reference.toml: the server as its record
    describes it, then each of its `[variants.<suffix>]` (`<name>/<suffix>`: the same image
    configured another way, by the record's fields the variant sets, `env` above all)."""
    record = tomllib.loads((folder / "reference.toml").read_text())
    name = record.pop("name", folder.name)
    variants = record.pop("variants", {})
    found = [_target(folder, name, record)]
    for suffix, changes in variants.items():
        found.append(_target(folder, f"{name}/{suffix}", {**record, **changes, "env": {**record.get("env", {}), **changes.get("env", {})}}))
    return found


def _target(folder, name, record):
    record = {key: tuple(value) if key in ("protocols", "cannot", "ready", "settings") else value
              for key, value in record.items()}
    try:
        return Target(name, record.pop("label", name), image=folder.name, **record)
    except TypeError as exc:  # a key the record does not know, or one it lacks
        raise ValueError(f"{folder / 'reference.toml'}: {exc}") from None


def references(directory=None):
    """{name: reference} of every folder with a reference.toml, in name order."""
    return dict(_read(Path(directory or os.environ.get("CONNLAB_REFERENCES") or DIRECTORY).resolve()))


@functools.cache  # read once a process: the runner asks for a target at every step
def _read(directory):
    folders = sorted(p.parent for p in directory.glob("*/reference.toml"))
    return tuple((target.name, target) for folder in folders for target in reference(folder))


def all_targets(directory=None):
    """{name: target}: connlab's designs, then the references."""
    return {**design_targets(), **references(directory)}


def get(name):
    """The target called `name` (KeyError if none is)."""
    return all_targets()[name]
