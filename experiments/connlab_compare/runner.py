"""Running the cells of a comparison: a cell (journal.Cell) is one repetition of one
scenario on one target (a design or a reference) and build, in one protocol, on a fresh
server; each of its steps is measured by Locust and, where the protocol's C reference
client (redis-benchmark, wrk) can replay it, by that client right after; each point goes
to the journal as soon as it is measured."""

import dataclasses
import statistics
import time

from connlab.config import cpu_set

from . import measure, noise, reference_client, schedstat, speaking, targets, theory
from .clients import LOCUST, RedisBenchmark
from .journal import Cell
from .lab import LabError, every_cpu, server_alias
from .scenarios import ScenarioError, load_all

CALIBRATION_REFERENCE = "redis"
CALIBRATION_READINGS = 5
CALIBRATION_REQUESTS = 15_000  # about a second at one PING in flight


def plan(names, archs, pythons, repeat, quick, protocols=speaking.DEFAULT):
    """(scenarios, cells): every repetition of every scenario on every target and
    build, in each protocol, in rounds (repetition 1 of everything, then 2, ...).
    Without `archs`: the classic designs, and the balancing policies where a scenario
    asks for them, the anchor references and those the scenario names; a target is left out of a scenario (in a
    protocol) none of whose steps it can run there."""
    scenarios = load_all(names or None, quick=quick)
    known = targets.all_targets()
    bad = [a for a in archs if a not in known] + [p for p in pythons if p not in targets.PYTHONS]
    if bad:
        raise ScenarioError(f"unknown {', '.join(bad)}; targets (designs and references): {', '.join(known)}; "
                            f"pythons: {', '.join(targets.PYTHONS)}")  # fmt: skip
    for scenario in scenarios:
        if unknown := sorted(scenario.named() - set(known)):
            raise ScenarioError(f"{scenario.name}.toml names {', '.join(unknown)}, not a design or reference: "
                                f"{', '.join(known)}")  # fmt: skip
    speaking.check(protocols)
    cells = []
    for r in range(1, repeat + 1):
        for scenario in scenarios:
            for protocol in protocols:
                for target in chosen_targets(scenario, archs, known):
                    if any(runs(target, scenario, step, protocol) for step in scenario.steps):
                        cells += [Cell(r, scenario.name, target.name, build, protocol) for build in target.builds(pythons)]
    return scenarios, cells


def chosen_targets(scenario, archs, known):
    """`archs`, else the scenario's designs, else the classic designs (and the balancing
    policies where it asks for them) with the anchor references (redis-server); and in
    either of the last two the targets it names (a prediction's, an agreement's, a
    published figure's, `beside`). A design the scenario does not run stays out."""
    named = scenario.named()
    if archs:
        return [known[a] for a in archs if not scenario.designs or a in scenario.designs or known[a].reference and a in named]
    if scenario.designs:
        return [known[a] for a in scenario.designs] + [t for name, t in known.items() if t.reference and name in named]
    return [t for name, t in known.items()
            if name in named or (t.anchor if t.reference else not t.policy or scenario.policies)]


def runs(target, scenario, step, protocol):
    """Whether `target` runs `step` of `scenario` in `protocol` (the step can be said in
    it, and the target can run it there)."""
    return speaking.why_not(scenario, step, protocol) is None and target.runs(scenario, step, protocol)


def not_run(scenarios, archs, protocols):
    """[{scenario, protocol, target, reason}] of what a plan leaves out for a protocol: a
    scenario that cannot be said in it (target None), and a target asked for (TARGETS=)
    that does not speak it (scenario None; a reference that runs by default, an anchor or
    one a scenario names, runs in the protocols it speaks and is not listed)."""
    known = targets.all_targets()
    left = [{"scenario": scenario.name, "protocol": protocol, "target": None, "reason": reason}
            for protocol in protocols for scenario in scenarios
            if (reason := speaking.unsaid(scenario, protocol))]  # fmt: skip
    named = [known[a] for a in archs]
    left += [{"scenario": None, "protocol": protocol, "target": target.name,
              "reason": f"it speaks {', '.join(target.protocols)} only"}
             for protocol in protocols for target in named if protocol not in target.protocols]  # fmt: skip
    return left


def steps_of(scenario, arch, protocol="resp"):
    """[(step, client)] of a cell, in the order measured: each step by Locust, then its C
    twin where the protocol's C client can replay it (a closed loop at once; an open-loop
    sweep of new connections once, as a closed loop of its users, after its last rate)."""
    target = targets.get(arch)
    steps = [step for step in scenario.steps if runs(target, scenario, step, protocol)]
    c_client = reference_client.client(protocol)
    order = []
    for i, step in enumerate(steps):
        order.append((step, LOCUST))
        if not (scenario.reference and reference_client.expressible(step, protocol)):
            continue
        parameters = step.groups[0].get("parameters", {})
        if not parameters.get("rate"):
            order.append((step, c_client.name))
        elif parameters.get("connection_mode") == "per-request" and (i + 1 == len(steps) or steps[i + 1].base != step.base):
            users = step.groups[0]["users"]
            closed = dataclasses.replace(step, label=f"{step.base}: closed loop, {users} connections", x=None,
                                         groups=[{"users": users, "parameters": {**parameters, "rate": 0}}])  # fmt: skip
            order.append((closed, c_client.name))
    return order


def expected(scenario, cell):
    return {(step.label, client) for step, client in steps_of(scenario, cell.target, cell.protocol)}


def step_requests(lab, scenario, step, address, target, quick, protocol="resp"):
    """The step as each agent's share: users (and rates) split over the agents."""
    count = len(lab.agents)
    requests = []
    for index in range(count):
        groups = []
        for group in step.groups:
            users = group["users"] // count + (index < group["users"] % count)
            parameters = dict(group.get("parameters", {}))
            if parameters.get("rate") and group["users"]:
                parameters["rate"] = parameters["rate"] * users / group["users"]
            if target.dialect:
                parameters["dialect"] = target.dialect
            parameters["protocol"] = protocol  # what the load generator speaks (its --protocol)
            groups.append({"users": users, "parameters": parameters})
        requests.append({"step": {
            "host": address, "groups": groups, "warmup": scenario.warmup(quick), "duration": scenario.duration(quick),
            "spawn_rate": scenario.timing["spawn_rate"], "scrape": scrape_source(scenario, target, address) if index == 0 else None,
        }})  # fmt: skip
    return requests


def scrape_source(scenario, target, address):
    """What the load generator reads of the server at `address` around a step: its
    /metrics, or its probe where it has none (only the resources a scenario reads)."""
    if not (scenario.server_figures or (scenario.theory and target.metrics_port)):
        return None
    return target.scrape_source(address.removeprefix("tcp://").rsplit(":", 1)[0])


def locust_point(lab, scenario, step, address, target, quick, baseline, on_phase=None, protocol="resp"):
    """One step measured by the load generator's agents: its figures (and the server's own).
    `on_phase("measuring")` and `on_phase("measured")` mark its measurement."""
    traced = step.base in scenario.threads and target.traced
    before, started = (schedstat.parse(lab.server_threads()), time.monotonic()) if traced else (None, None)
    replies = lab.ask_all(step_requests(lab, scenario, step, address, target, quick, protocol), on_phase)
    figures = measure.point_metrics(replies, scenario.measure)
    if traced:  # the whole step, warm-up included: the threads' roles do not change within it
        figures["threads"] = schedstat.per_role(before, schedstat.parse(lab.server_threads()), time.monotonic() - started)
    texts = replies[0]["metrics"]
    if scenario.theory and target.metrics_port:  # what the server itself served: the models' inputs
        figures["served"] = theory.served(texts["before"], texts["after"], replies[0]["seconds"], measure.samples)
    if scenario.server_figures == "spread" and target.per_worker:
        figures.update(measure.spread(texts["before"], texts["after"], from_metrics=bool(target.metrics_port)))
    elif scenario.server_figures == "resources":
        held = measure.server_resources(texts["after"], from_metrics=bool(target.metrics_port))
        if not baseline:
            baseline.update(held)
        else:
            figures.update(measure.per_connection(baseline, held, step.x))
    return figures


def reference_point(lab, scenario, step, address, quick, locust_rps, protocol="resp"):
    """The same step replayed by the protocol's C client: its figures."""
    host, port = address.removeprefix("tcp://").split(":")
    threads = len(lab.loadgen_cpus)
    argv = reference_client.arguments(step, reference_client.expressible(step, protocol), host, port, threads, protocol,
                                      scenario.reference_duration(quick), locust_rps)  # fmt: skip
    ok, output = lab.run_reference(reference_client.client(protocol), argv)
    try:
        if ok:
            return reference_client.parse(output, threads, protocol)
    except AttributeError:  # finished without its summary: say what it printed
        pass
    return reference_client.failed(output)


def run_cell(lab, cell, scenario, quick, progress, journal, settings=None):
    """Every step of a cell (of `scenario`) on a fresh server (with `settings` besides
    the scenario's), each point journaled as it is measured; a point whose CPUs the
    machine took for something else (noise.noisy) is measured once more, and marked if
    it stays noisy."""
    target = targets.get(cell.target)
    cpus = every_cpu(lab.server_engine) if scenario.server_cpus == "all" else None
    settings = {**scenario.server_settings, **(settings or {}), "PROTOCOL": cell.protocol}
    address = lab.start_server(target, cell.python, settings, cpus, server_alias(cell))
    server_cpus = cpu_set(cpus or lab.server_cpus)
    baseline, served = {}, {}
    for step, client in steps_of(scenario, target.name, cell.protocol):
        progress.show(scenario.name, target.name, f"{cell.python}, {cell.protocol}",
                      step.label + ("" if client == LOCUST else f" ({client})"), cell.repeat)  # fmt: skip
        first = not baseline  # a resources scenario's first step is its baseline: measured again, it is again
        for attempt in (1, 2):
            if attempt == 2 and first:
                baseline.clear()
            marks = {"measuring": lab.snapshot(server_cpus)}  # Locust's agent marks its own
            if client == LOCUST:
                mark = lambda phase: marks.__setitem__(phase, lab.snapshot(server_cpus))  # noqa: E731
                figures = locust_point(lab, scenario, step, address, target, quick, baseline, mark, cell.protocol)
                loaded = None
            else:  # the C client has no warm-up: its window is the container's run, its load its own seconds
                figures = reference_point(lab, scenario, step, address, quick, served.get(step.label) or served.get(step.base),
                                          cell.protocol)  # fmt: skip
                loaded = figures["requests"] / figures["rps"] if figures["rps"] else None
            after = marks.get("measured") or lab.snapshot(server_cpus)
            figures.update(noise.between(marks["measuring"], after, server_cpus, lab.server_id, loaded))
            if not noise.noisy(figures):
                break
            if attempt == 1:
                progress.note(f"noise {figures['noise']:.0%} on the server's CPUs: measuring {step.label} again")
                noisy_before = figures["noise"]
            else:
                figures["noisy"] = True
        if attempt == 2:
            figures["remeasured_from_noise"] = noisy_before
        if client == LOCUST:
            served[step.label] = figures["rps"]
            served[step.base] = max(figures["rps"], served.get(step.base, 0))
        journal.append({"scenario": cell.scenario, "target": cell.target, "python": cell.python, "protocol": cell.protocol,
                        "step": step.label, "base": step.base, "x": step.x, "repeat": cell.repeat, "client": client,
                        "metrics": figures})  # fmt: skip
        progress.done()


def calibrate(lab, when, readings=CALIBRATION_READINGS):
    """The machine's speed now: the same tiny closed loop against redis-server, a few
    times over (one connection, one PING at a time: it moves with every CPU's speed and
    with the scheduler's delays, as every point of the run does). Its median, readings
    and noise."""
    reference = targets.get(CALIBRATION_REFERENCE)
    address = lab.start_server(reference, reference.build, {})
    host, port = address.removeprefix("tcp://").split(":")
    cpus = cpu_set(lab.server_cpus)
    rates, shares = [], []
    for _ in range(readings):
        before = lab.snapshot(cpus)
        ok, output = lab.run_reference(RedisBenchmark, RedisBenchmark.command(host, port, ["PING"], clients=1,
                                                                              requests=CALIBRATION_REQUESTS))  # fmt: skip
        shares.append(noise.between(before, lab.snapshot(cpus), cpus, lab.server_id)["noise"])
        if not ok:
            raise LabError(f"the calibration step failed: {output.strip()[-200:]}")
        rates.append(reference_client.parse(output)["rps"])
    lab.stop_server()
    return {"when": when, "at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "rps": statistics.median(rates), "readings": [round(rate) for rate in rates],
            "noise": max((share for share in shares if share is not None), default=None)}  # fmt: skip


def versions(lab, archs, pythons):
    """What each server build runs: its INFO's python and gil lines."""
    found = {}
    chosen = [targets.get(arch) for arch in archs]
    design = next((target for target in chosen if not target.reference), None)
    for python in pythons if design else ():
        address = lab.start_server(design, python, {})
        info = lab.ask_all([{"probe": address, "command": ["INFO"]}])[0]["reply"]
        fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
        found[python] = f"Python {fields.get('python')}, GIL {fields.get('gil')}"
    lab.stop_server()
    others = {}  # a reference's own build ("C"): the references built so; one run by connlab's build is not it
    for target in chosen:
        if target.reference and target.build not in found:
            others.setdefault(target.build, []).append(target.label)
    return {**found, **{build: ", ".join(labels) for build, labels in others.items()}}
