"""make compare: the experiment runner and its report (see __main__.py)."""
