"""`make model` on bench-scaling's new-connection loads (connlab_model.connections): the
capacity judged only where the server used its CPUs, the blocked worker's p99 within 2×,
and predictions only where every judged cell met its goal."""

import json

import pytest
from connlab_model import connections, inputs

NEW, BESIDE = "NEW PING", "NEW PING beside SLEEP 100ms"


def table(tmp_path, cells):
    """A bench-scaling table with the new-connection loads only: cells {(arch, load,
    cpus): {figure: value}}."""
    figures = {}
    for (arch, load, cpus), found in cells.items():
        for figure, value in found.items():
            figures.setdefault(figure, {}).setdefault(arch, {}).setdefault(load, {})[str(cpus)] = value
    path = tmp_path / "scaling.json"
    path.write_text(json.dumps({"source": "test", "python": "3.13", "gil": True, "connections": 64,
                                "loads": {NEW: {"new": True}, BESIDE: {"new": True, "rate": 100, "sleep_ms": 100}},
                                **figures}))  # fmt: skip
    return inputs.read(path)


def test_a_capacity_is_judged_where_the_server_used_its_cpus(tmp_path):
    data = table(tmp_path, {
        ("socket-sharding", NEW, 1): {"rps": 4900, "server_cpu": 0.98, "cost_us": 200, "other_share": 0.1},
        ("socket-sharding", NEW, 2): {"rps": 9700, "server_cpu": 1.95, "cost_us": 200, "other_share": 0.1},
        ("multi-acceptor", NEW, 1): {"rps": 4900, "server_cpu": 0.98, "cost_us": 200, "other_share": 0.0},
        ("multi-acceptor", NEW, 2): {"rps": 3000, "server_cpu": 0.6, "cost_us": 200, "other_share": 0.0},
    })  # fmt: skip
    assert data["loads"] == {} and set(data["new_loads"]) == {NEW, BESIDE}
    rows = {(r["arch"], r["cpus"]): r for r in connections.check(data)}
    assert rows["socket-sharding", 1]["input"] and not rows["socket-sharding", 1]["judged"]
    assert rows["socket-sharding", 2]["judged"] and rows["socket-sharding", 2]["within"]  # 2 / 200 µs: 10,000
    assert not rows["multi-acceptor", 2]["judged"] and "30%" in rows["multi-acceptor", 2]["bound"]
    predictions, missed = connections.predict(data, list(rows.values()))
    assert predictions["socket-sharding", NEW][64] == pytest.approx(64 / 200e-6, rel=0.1)  # a process per core
    assert "nothing judged" in missed["multi-acceptor", NEW]


def test_the_blocked_worker_p99_is_checked_within_two_times(tmp_path):
    data = table(tmp_path, {
        ("single-thread", BESIDE, 1): {"rps": 98, "p99_ms": 303, "cost_us": 150},  # one loop: two SLEEPs
        ("hybrid", BESIDE, 1): {"rps": 98, "p99_ms": 5, "cost_us": 150},  # a free pool worker: the client's floor
        ("single-acceptor", BESIDE, 1): {"rps": 98, "p99_ms": 40, "cost_us": 150},  # far above the floor: a miss
    })  # fmt: skip
    rows = {r["arch"]: r for r in connections.check(data)}
    assert rows["hybrid"]["input"] and not rows["hybrid"]["judged"]  # the floor: the client's and network's
    assert rows["single-thread"]["within"] and rows["single-thread"]["model"] == pytest.approx(205, rel=0.05)
    assert not rows["single-acceptor"]["within"]  # one loop at one CPU: the model says two SLEEPs
    predictions, missed = connections.predict(data, list(rows.values()))
    assert set(predictions) == {("single-thread", BESIDE)} and "5.1" in missed["single-acceptor", BESIDE]
    text = "\n".join(connections.lines(list(rows.values()), predictions, missed))
    assert "single-thread" in text and "single-acceptor    NEW PING beside SLEEP 100ms  no prediction" in text
