"""connlab's load generator: a Locust custom client speaking RESP over raw TCP."""

# What starts each answer of the experiments' agent (agent.py) on its stdout.
AGENT_MARK = "@@connlab-agent@@"
