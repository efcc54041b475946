"""What `make compare` tells Prometheus (scrape.py): a file_sd group for the agents and
one for the server, labelled with the run, the scenario, the design and its architecture,
and the build; no server target for a reference, which has no /metrics."""

import json
from types import SimpleNamespace

import yaml
from connlab_compare import scrape
from connlab_compare.journal import Cell


def fake_lab():
    agents = [SimpleNamespace(name=f"lab-x-agent-{i}") for i in range(2)]
    return SimpleNamespace(name="lab-x", network="lab-x", agents=agents, loadgen_cpus={0}, server_host=lambda alias: alias)


def cell(arch, python, repeat=1, scenario="spread", protocol="resp"):
    return Cell(repeat, scenario, arch, python, protocol)


def test_groups_label_the_server_and_the_agents_with_what_runs():
    groups = scrape.target_groups(fake_lab(), "20261202T000000Z", cell("single-acceptor/pool", "3.13t"))
    by_role = {group["labels"]["role"]: group for group in groups}
    assert by_role["server"]["targets"] == ["spread-single-acceptor-pool-3-13t-resp-r1:8000"]  # the cell's own name
    assert by_role["loadgen"]["targets"] == ["lab-x-agent-0:9646", "lab-x-agent-1:9646"]
    for group in groups:
        assert group["labels"] | {"role": None} == {"run": "20261202T000000Z", "scenario": "spread", "role": None,
                                                      "target": "single-acceptor/pool", "arch": "single-acceptor",
                                                      "build": "3.13t", "protocol": "resp"}  # fmt: skip


def test_a_reference_has_no_server_target():
    groups = scrape.target_groups(fake_lab(), "r", cell("redis", "C", scenario="throughput"))
    assert [group["labels"]["role"] for group in groups] == ["loadgen"]


def test_every_cell_has_a_server_name_of_its_own():
    names = {scrape.server_alias(cell(a, p, r, protocol=protocol)) for a in ("single-acceptor/pool", "hybrid")
             for p in ("3.13", "3.13t") for r in (1, 2) for protocol in ("resp", "http")}  # fmt: skip
    assert len(names) == 16


def test_describe_writes_the_file_whole_and_readable(tmp_path):
    with scrape.Scrape(fake_lab(), "r", choice="off") as off:
        off.describe(cell("single-thread", "3.13"))  # nothing to tell
    assert not list(tmp_path.iterdir())
    told = scrape.Scrape(fake_lab(), "r")
    told.file = tmp_path / "lab-x.json"
    told.describe(cell("single-thread", "3.13"))
    assert [path.name for path in tmp_path.iterdir()] == ["lab-x.json"]
    assert json.loads(told.file.read_text())[1]["labels"]["target"] == "single-thread"
    assert told.file.stat().st_mode & 0o044 == 0o044  # Prometheus runs as nobody


def test_the_prometheus_config_reads_the_runs_targets_and_keeps_the_servers_arch():
    config = yaml.safe_load((scrape.FOLDER.parents[2] / "prometheus/prometheus.yml").read_text())
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "connlab-compare"]
    assert job["honor_labels"] is True
    assert job["file_sd_configs"][0]["files"] == [f"{scrape.TARGETS}/*.json"]
