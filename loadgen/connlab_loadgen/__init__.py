"""connlab's load generator: a Locust custom client speaking RESP over raw TCP."""
