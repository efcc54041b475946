"""connlab's load generator: a Locust custom client speaking RESP or HTTP/1.1 over raw TCP."""

# What starts each answer of the experiments' agent (agent.py) on its stdout.
AGENT_MARK = "@@connlab-agent@@"
# ... and each line that says a step's measurement began or ended (the lab reads the
# machine's counters at those moments).
PHASE_MARK = "@@connlab-phase@@"
