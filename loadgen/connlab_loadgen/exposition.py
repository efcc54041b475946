"""Reading a /metrics page (Prometheus' text exposition), the servers' or the load
generator's: fetched, parsed by prometheus_client's own parser, summed by labels."""

import urllib.request
from collections import defaultdict

from prometheus_client.parser import text_string_to_metric_families


def fetch(url, timeout=10):
    """The text at `url`."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


def families(text):
    """The metric families of a /metrics text (a counter's name without `_total`)."""
    return list(text_string_to_metric_families(text))


def samples(text):
    """{sample name: [samples]} of a /metrics text; a sample has .labels and .value."""
    found = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name].append(sample)
    return found


def total(found, name, **labels):
    """Sum of the samples called `name` whose labels include `labels` (`found`: samples())."""
    return sum(s.value for s in found.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items()))
