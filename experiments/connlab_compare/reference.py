"""The reference servers: not designs of connlab's but rows beside them, for scale. One
record each, read by the lab and the runner: its name (in ARCHS and results.json), how
the report names it and its build, how to run it, its port, how the load generator
speaks to it, what the lab can read of the server itself, and which of connlab's
commands it has no equivalent of (a step that sends one is not run on it)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Reference:
    name: str
    label: str  # how the report names it
    build: str  # its rows' build column
    run: tuple  # `docker run` arguments after the options: the image (its tag is the lab's) and its command
    port: int
    dialect: str  # the load generator's wire dialect for it
    probe: str  # what the lab asks it of itself (its memory), after tcp://target:<port>
    cannot: tuple = ()  # connlab commands it has no equivalent of
    per_worker: bool = False  # counts per worker, as a `spread` scenario reads them


REDIS = Reference(
    "redis", "redis-server (C)", "C",
    ("connlab/redis", "redis-server", "--protected-mode", "no", "--save", "", "--appendonly", "no",
     "--enable-debug-command", "yes", "--maxclients", "20000"),
    port=6379, dialect="redis", probe="INFO memory",
    cannot=("WORK",),  # nothing burns a given CPU time; SLEEP is DEBUG SLEEP
)  # fmt: skip
REFERENCES = {reference.name: reference for reference in (REDIS,)}


def runs(reference, scenario, step):
    """Whether `reference` can run `step` of `scenario`: every command it sends has an
    equivalent, and the figures the scenario reads of the server exist."""
    if scenario.server_figures == "spread" and not reference.per_worker:
        return False
    sent = {item.split(":")[0] for group in step.groups for item in group.get("parameters", {}).get("mix", "PING:1").split(",")}
    return not sent & set(reference.cannot)
