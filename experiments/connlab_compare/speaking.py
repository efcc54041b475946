"""The protocols a comparison runs its scenarios in (PROTOCOLS=): the server's own list
(a module each in services/connlab/protocols/), and what a scenario cannot say in one.

A scenario's steps are commands (PING, ECHO, SLEEP, WORK, INFO) that the load generator
sends in whichever protocol the cell speaks. A step is left out of a protocol where its
file restricts it to others, or where it sends a command the protocol has no request
for; a scenario none of whose steps is left is not run in that protocol, and the report
says why.
"""

from connlab import protocols

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


def commands(protocol):
    """The commands `protocol` has a request for (its module's COMMANDS), or None where
    its module does not say: then every command."""
    found = getattr(protocols.PROTOCOLS[protocol], "COMMANDS", None)
    return None if found is None else {str(command).upper() for command in found}


def sent(step):
    """The commands a step's users send."""
    mixes = (group.get("parameters", {}).get("mix", "PING:1") for group in step.groups)
    return {item.split(":")[0].strip().upper() for mix in mixes for item in mix.split(",") if item.strip()}


def why_not(scenario, step, protocol):
    """Why `step` of `scenario` cannot be said in `protocol`, or None where it can."""
    if scenario.protocols is not None and protocol not in scenario.protocols:
        return f"its file restricts it to {', '.join(scenario.protocols)}"
    spoken = commands(protocol)
    missing = sorted(sent(step) - spoken) if spoken is not None else []
    if missing:
        return f"{protocol} has no request for {', '.join(missing)} (step {step.base!r})"
    return None


def unsaid(scenario, protocol):
    """Why `scenario` cannot run in `protocol` at all (no step can be said), or None."""
    reasons = [why_not(scenario, step, protocol) for step in scenario.steps]
    if all(reasons):
        return "; ".join(dict.fromkeys(reasons))
    return None
