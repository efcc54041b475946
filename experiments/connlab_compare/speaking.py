"""The protocols a comparison runs its scenarios in (PROTOCOLS=): the server's own list
(a module each in services/connlab/protocols/), and what a scenario cannot say in one.

A scenario's steps are commands (PING, ECHO, SLEEP, WORK, INFO) that the load generator
sends in whichever protocol the cell speaks (its codec, connlab_loadgen/protocols.py). A
step is left out of a protocol where its file restricts it to others, or where the load
generator cannot say it there (a command with no request in that protocol, or no codec
for the protocol at all); a scenario none of whose steps is left is not run in that
protocol, and the report says why.
"""

from connlab import protocols
from connlab_loadgen.options import Mix

from .scenarios import ScenarioError

DEFAULT = ("resp",)


def known():
    """Every protocol the server speaks, the default first."""
    return list(protocols.PROTOCOLS)


def check(names):
    """`names` (PROTOCOLS=), or ScenarioError naming the protocols there are."""
    bad = [name for name in names if name not in protocols.PROTOCOLS]
    if bad or not names:
        raise ScenarioError(f"unknown protocol(s) {', '.join(bad) or '(none given)'}; protocols (the server's, "
                            f"services/connlab/protocols/): {', '.join(known())}")  # fmt: skip
    return list(names)


def unsayable(step, protocol):
    """What the load generator says when asked for `step`'s mixes in `protocol` (its
    ValueError), or None where it can send them."""
    for group in step.groups:
        parameters = group.get("parameters", {})
        try:
            Mix.parse(parameters.get("mix", "PING:1"), parameters.get("echo_bytes", 16), parameters.get("work_us", 100),
                      parameters.get("sleep_ms", 10), protocol=protocol)  # fmt: skip
        except ValueError as exc:
            return str(exc)
    return None


def why_not(scenario, step, protocol):
    """Why `step` of `scenario` cannot be said in `protocol`, or None where it can."""
    if scenario.protocols is not None and protocol not in scenario.protocols:
        return f"its file restricts it to {', '.join(scenario.protocols)}"
    refusal = unsayable(step, protocol)
    return f"step {step.base!r}: the load generator cannot say it in {protocol}: {refusal}" if refusal else None


def unsaid(scenario, protocol):
    """Why `scenario` cannot run in `protocol` at all (no step can be said), or None."""
    reasons = [why_not(scenario, step, protocol) for step in scenario.steps]
    if all(reasons):
        return "; ".join(dict.fromkeys(reasons))
    return None
