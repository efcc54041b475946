"""What queueing theory predicts for a step's load, beside what the designs measured.

Two textbook models of c workers, for the arrival rate and service times the servers
themselves measured during the step (their request counts and durations, per command):
one queue that every worker takes from (M/M/c: a shared accept queue, message
balancing), and c queues of one worker each with the arrivals split evenly among them
(c × M/M/1: a connection bound to its loop or process before it is read). Both assume
Poisson arrivals, exponential service times of the measured mean, and first come,
first served (L. Kleinrock, Queueing Systems vol. 1, 1975, §3.5; the Erlang C formula).
A request's latency is its wait plus its own service time.

At 80 % load two workers wait 2.25× less with one shared queue; the measured service
times of the scenarios are far from exponential (a 50 ms SLEEP among 20 µs PINGs), so
the measured tails are far longer than either model: the models are an anchor, like
redis-server, not a forecast.
"""

import math
import statistics

QUANTILE = 0.99


def erlang_c(servers, offered):
    """The probability that an arrival waits in M/M/c: `servers` workers, `offered` load in
    erlangs (arrival rate × mean service time), below `servers`."""
    terms = [offered**k / math.factorial(k) for k in range(servers)]
    last = offered**servers / math.factorial(servers) * servers / (servers - offered)
    return last / (sum(terms) + last)


def wait(servers, rate, service, quantile=QUANTILE):
    """(mean, quantile) of the wait in M/M/`servers` at `rate` arrivals/s with mean service
    `service` s: P(wait > t) = C · exp(−(cμ − λ) t). None where the queue grows without end."""
    offered = rate * service
    if offered >= servers:
        return None
    waits = erlang_c(servers, offered)
    drain = servers / service - rate  # cμ − λ
    tail = math.log(waits / (1 - quantile)) / drain if waits > 1 - quantile else 0.0
    return waits / drain, tail


def predict(workers, classes, measured, quantile=QUANTILE):
    """{model: {"mean_ms", "p99_ms"}} of the latency of a request of the class `measured`
    (a command name), for `classes` = {command: (rate per s, mean service s)}."""
    rate = sum(r for r, _ in classes.values())
    service = sum(r * s for r, s in classes.values()) / rate
    own = classes[measured][1]
    models = {f"one shared queue (M/M/{workers})": wait(workers, rate, service, quantile),
              f"a queue per worker ({workers} × M/M/1)": wait(1, rate / workers, service, quantile)}  # fmt: skip
    return {name: None if found is None else {"mean_ms": 1000 * (found[0] + own), "p99_ms": 1000 * (found[1] + own)}
            for name, found in models.items()}  # fmt: skip


def served(before, after, seconds, samples):
    """{command: (rate per s, mean service s)} from two /metrics texts, `seconds` apart:
    the server's own count and total duration of each command."""
    counts, sums = {}, {}
    for text, sign in ((before, -1), (after, 1)):
        found = samples(text)
        for into, name in ((counts, "connlab_request_duration_seconds_count"), (sums, "connlab_request_duration_seconds_sum")):
            for sample in found.get(name, []):
                command = sample.labels["command"]
                into[command] = into.get(command, 0) + sign * sample.value
    return {command: (count / seconds, sums[command] / count) for command, count in counts.items() if count > 0}


def step_classes(points):
    """{command: (rate per s, mean service s)} of a step: the median over the designs that
    measured them (the offered load is the same for all; a pooled design's durations
    include its queue wait, and most designs have none)."""
    found = [p["metrics"]["served"] for p in points if p["metrics"].get("served")]
    commands = set.intersection(*(set(f) for f in found)) if found else set()
    return {c: tuple(statistics.median(f[c][i] for f in found) for i in (0, 1)) for c in sorted(commands)}

