"""make bench-server PROTOCOL=http, without running it: what it starts side by side, and
the table it prints from the figures of its runs."""

import bench_server_http
from connlab_compare import targets


def test_the_designs_speak_http_beside_the_http_references():
    references = {name: t for name, t in targets.references().items() if "http" in t.protocols}
    anchors, *designs = bench_server_http.groups(["single-thread", "hybrid"], ["3.13"], references)
    assert [s.label for s in anchors] == [t.label for t in references.values()]
    assert {s.image for s in anchors} == {f"connlab/nginx:{targets.tag()}", f"connlab/uvicorn:{targets.tag()}"}
    assert [[s.label for s in group] for group in designs] == [["single-thread"], ["hybrid"]]
    (hybrid,) = designs[1]
    assert hybrid.env["PROTOCOL"] == "http" and hybrid.env["ARCH"] == "hybrid" and hybrid.port == targets.SERVER_PORT


def test_the_table_gives_each_servers_ratio_to_each_reference(capsys):
    references = {name: t for name, t in targets.references().items() if "http" in t.protocols}
    rate = {"nginx (C)": 40_000, "uvicorn + httptools (Python)": 10_000, "single-thread": 20_000}
    runs = {label: {point: [{"rps": r * factor, "errors": 0, "loadgen_cpu": 50.0} for factor in (0.9, 1.0, 1.5)]
                    for point in bench_server_http.POINTS} for label, r in rate.items()}  # fmt: skip
    runs["single-thread"]["close"][0]["errors"] = 3
    bench_server_http.report(runs, references)
    (row,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("single-thread")]
    # At each point: its median, then its ratio to nginx and to uvicorn; then its errors and wrk's CPU.
    assert row.split()[1:] == ["20000", "0.50", "2.00"] * 3 + ["3", "50%"]
