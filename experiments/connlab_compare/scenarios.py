"""Scenarios: the TOML files in experiments/, read and checked, their steps expanded.

A scenario names what it measures (`measure`: the request names whose latency counts),
its headline figure, its steps and the predictions of the literature. A step is one
load: groups of users with the load generator's parameters (those of the web UI); a
`sweep` repeats it over rising users or rates (`quick` values for QUICK=1).
"""

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from . import agreement

DIRECTORY = Path(__file__).resolve().parent.parent
TIMING = {"warmup": 2.0, "duration": 8.0, "quick_warmup": 1.0, "quick_duration": 2.0, "spawn_rate": 1000,
          "reference": 4.0, "quick_reference": 1.0}  # about how long the C client runs per step


class ScenarioError(Exception):
    pass


@dataclass
class Step:
    label: str  # e.g. "PING @ 8 users"
    base: str  # the step's label in the file, e.g. "PING"
    x: float | None  # the sweep value (users or rate), for plots
    groups: list  # [{"users": n, "parameters": {...}}]


@dataclass
class Scenario:
    name: str
    title: str
    description: str
    look_for: str
    measure: list
    headline: str
    steps: list
    predictions: list
    knee_ms: float = 10.0
    server_figures: str | None = None  # "spread" or "resources": read from the server's own figures
    server_settings: dict = field(default_factory=dict)
    timing: dict = field(default_factory=dict)
    sweep: str | None = None  # "users" or "rate", when the steps sweep one of them
    policies: bool = False  # run the balancing policies (designs.py: policy) too
    theory: dict = field(default_factory=dict)  # {"workers": c}: queueing models beside the measurements
    designs: list = field(default_factory=list)  # the designs it runs (default: the classic ones)
    server_cpus: str | None = None  # "all": the server on every CPU, the load generator sharing them
    reference: bool = True  # False: no C client twin (Locust is far from its limit there)
    threads: list = field(default_factory=list)  # steps whose server threads' scheduler figures are read
    columns: list = field(default_factory=list)  # its own figures, as columns of its table
    plot: str = "auto"  # "top": the headline at the top of the sweep, in bars (else a sweep or bars per step)
    x_label: str | None = None  # what its sweep's x is, on the figure
    protocols: tuple | None = None  # the only protocols its load may speak (None: each one asked, PROTOCOLS=)
    agreements: list = field(default_factory=list)  # a pattern in the model and in real systems (agreement.py)
    published: list = field(default_factory=list)  # published figures set beside the lab's (agreement.py)
    beside: list = field(default_factory=list)  # real servers measured beside the designs, no prediction about them

    def named(self):
        """The targets its predictions, agreements and published figures name."""
        groups = [*self.predictions, *(pair for a in self.agreements for pair in (a["model"], *a["real"]))]
        found = {name for group in groups for key in ("better", "worse", "similar") for name in group.get(key, [])}
        return found | {name for published in self.published for name in published.get("figures", {})} | set(self.beside)

    def warmup(self, quick):
        return self.timing["quick_warmup" if quick else "warmup"]

    def duration(self, quick):
        return self.timing["quick_duration" if quick else "duration"]

    def reference_duration(self, quick):
        return self.timing["quick_reference" if quick else "reference"]


def load_all(names=None, quick=False, directory=DIRECTORY):
    """The scenarios named (all when None), in file order."""
    available = {path.stem: path for path in sorted(directory.glob("*.toml"))}
    chosen = names or list(available)
    unknown = [name for name in chosen if name not in available]
    if unknown:
        raise ScenarioError(f"unknown scenario(s) {', '.join(unknown)}; choose from: {', '.join(available)}")
    return [load(available[name], quick) for name in chosen]


def load(path, quick=False):
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path.name}: {exc}") from None
    missing = [key for key in ("title", "description", "look_for", "measure", "headline", "steps") if key not in data]
    if missing:
        raise ScenarioError(f"{path.name}: missing {', '.join(missing)}")
    steps, sweeps = [], set()
    for raw in data["steps"]:
        expanded, swept = expand(raw, quick, path.name)
        steps += expanded
        sweeps.add(swept)
    labels = {step.base for step in steps}
    if data.get("plot", "auto") not in ("auto", "top"):
        raise ScenarioError(f"{path.name}: plot is \"top\" (the headline at the sweep's top, in bars) or absent")
    if data.get("server_cpus") not in (None, "all"):
        raise ScenarioError(f"{path.name}: server_cpus is \"all\" or absent (then SERVER_CPUS)")
    if set(data.get("threads", [])) - labels:
        raise ScenarioError(f"{path.name}: threads names steps that are not steps ({', '.join(sorted(labels))})")
    for prediction in data.get("predictions", []):
        check_prediction(prediction, labels, path.name)
    for agreement_ in data.get("agreements", []):
        try:
            agreement.check(agreement_, path.name)
        except ValueError as exc:
            raise ScenarioError(str(exc)) from None
        if agreement_.get("step") and agreement_["step"] not in labels:
            raise ScenarioError(f"{path.name}: agreement step {agreement_['step']!r} is not a step ({', '.join(sorted(labels))})")
    for published in data.get("published", []):
        if not published.get("source") or not isinstance(published.get("figures"), dict):
            raise ScenarioError(f"{path.name}: a published result needs `source` and `figures` ({{target: {{metric: value}}}})")
    return Scenario(
        name=path.stem, title=data["title"], description=data["description"].strip(),
        look_for=data["look_for"].strip(), measure=data["measure"], headline=data["headline"], steps=steps,
        predictions=data.get("predictions", []), knee_ms=data.get("knee_ms", 10.0),
        server_figures=data.get("server_figures"), server_settings=data.get("server_settings", {}),
        timing={**TIMING, **data.get("timing", {})},
        sweep=next(iter(sweeps)) if len(sweeps) == 1 else None, policies=data.get("policies", False),
        theory=data.get("theory", {}), designs=data.get("designs", []), server_cpus=data.get("server_cpus"),
        reference=data.get("reference", True), threads=data.get("threads", []), columns=data.get("columns", []),
        plot=data.get("plot", "auto"), x_label=data.get("x_label"), protocols=protocols_of(data, path.name),
        agreements=data.get("agreements", []), published=data.get("published", []), beside=data.get("beside", []),
    )  # fmt: skip


def protocols_of(data, where):
    """The protocols a file restricts its scenario to (`protocols = [...]`, or one
    `protocol`), or None: it runs on every protocol asked that can express it."""
    found = data.get("protocols", [data["protocol"]] if "protocol" in data else None)
    if found is not None and not (isinstance(found, list) and found and all(isinstance(p, str) for p in found)):
        raise ScenarioError(f"{where}: protocols is a list of protocol names (e.g. [\"resp\"]), not {found!r}")
    return tuple(found) if found is not None else None


def expand(raw, quick, where):
    """One file step -> its steps (one per sweep value), and what it sweeps."""
    groups = raw.get("groups") or [{"users": raw.get("users", 1), "parameters": raw.get("parameters", {})}]
    sweep = raw.get("sweep")
    if not sweep:
        return [Step(raw["label"], raw["label"], None, groups)], None
    (swept,) = [key for key in sweep if key != "quick"] or [None]
    if swept not in ("users", "rate"):
        raise ScenarioError(f"{where}: step {raw['label']!r}: sweep over 'users' or 'rate'")
    steps = []
    for value in sweep.get("quick", sweep[swept]) if quick else sweep[swept]:
        first = dict(groups[0], parameters=dict(groups[0].get("parameters", {})))
        if swept == "users":
            first["users"] = value
            label = f"{raw['label']} @ {value} users"
        else:
            first["parameters"]["rate"] = value
            label = f"{raw['label']} @ {value}/s"
        steps.append(Step(label, raw["label"], value, [first, *groups[1:]]))
    return steps, swept


def check_prediction(prediction, labels, where):
    for key in ("claim", "source", "metric"):
        if key not in prediction:
            raise ScenarioError(f"{where}: a prediction has no {key!r}")
    if "designs" in prediction:  # each design against itself: another build, or another sweep value
        if prediction.get("expect") not in ("more", "same") or prediction.get("from", {}) == prediction.get("to", {}):
            raise ScenarioError(f"{where}: prediction {prediction['claim'][:40]!r}: with `designs`, give `expect` "
                                "(\"more\" or \"same\") and `from` and `to` that differ (python, x)")  # fmt: skip
    elif not (prediction.get("similar") or (prediction.get("better") and prediction.get("worse"))):
        raise ScenarioError(f"{where}: prediction {prediction['claim'][:40]!r}: give `better` and `worse`, or `similar`")
    if prediction.get("above") and prediction["above"] not in prediction.get("similar", []):
        raise ScenarioError(f"{where}: prediction {prediction['claim'][:40]!r}: `above` names one of `similar`")
    busy = prediction.get("busy")
    if busy is not None and not (isinstance(busy, (int, float)) and busy > 0):
        raise ScenarioError(f"{where}: prediction {prediction['claim'][:40]!r}: busy is the CPUs the server must use "
                            f"in every point compared (e.g. 0.9), not {busy!r}")  # fmt: skip
    if prediction.get("step") and prediction["step"] not in labels:
        raise ScenarioError(f"{where}: prediction step {prediction['step']!r} is not a step ({', '.join(sorted(labels))})")
