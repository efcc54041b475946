"""make compare with the servers on another machine's Docker engine (SERVER_ENGINE):
their CPU from that engine's stats and that machine's /proc/stat, their address the
machine's, the settings checked before anything runs."""

import subprocess
import sys
from types import SimpleNamespace

import docker.errors
import pytest
from connlab_compare import containers, lab, noise
from connlab_compare.lab import Lab

from compose_util import ROOT

PROC_STAT = "cpu  0 0 0 0 0 0 0 0 0 0\ncpu0 100 0 0 0 0 0 0 0 0 0\ncpu1 300 0 0 0 0 0 0 50 0 0\n"


class Server:
    """A container on another engine: its stats and what an exec in it prints."""

    id, name = "remote", "connlab-compare-x-server"

    def __init__(self, total_ns=3e9, user_ns=2e9):
        self.total_ns, self.user_ns = total_ns, user_ns

    def stats(self, stream, one_shot):
        assert (stream, one_shot) == (False, True)  # one reading now, not a stream or a second's wait
        return {"cpu_stats": {"cpu_usage": {"total_usage": self.total_ns, "usage_in_usermode": self.user_ns}}}

    def exec_run(self, argv, **options):
        assert argv[-2:] == ["cat", "/proc/stat"]
        return SimpleNamespace(exit_code=0, output=PROC_STAT.encode())


def test_a_containers_cpu_comes_from_its_engine_where_its_files_are_elsewhere():
    assert containers.cpu_usage(Server()) == (3.0, 2.0)

    class Gone(Server):
        def stats(self, stream, one_shot):
            raise docker.errors.NotFound("gone")

    assert containers.cpu_usage(Gone()) is None


def test_a_remote_servers_noise_is_read_on_its_own_machine(tmp_path):
    remote = Lab("1", {0}, tmp_path, server_engine="ssh://user@server", server_address="192.0.2.7")
    remote.server, remote.server_id = Server(), Server.id
    found = remote.snapshot({1})
    assert found.usage == {"remote": (3.0, 2.0)}  # the engine's stats, not this machine's cgroup files
    assert (found.user, found.steal) == (300 / noise.TICK, 50 / noise.TICK)  # that machine's /proc/stat, CPU 1 only
    assert remote.server_host("cell-alias") == "192.0.2.7"  # the clients and Prometheus dial its machine
    assert Lab("1", {0}, tmp_path).server_host("cell-alias") == "cell-alias"  # on the lab's network


def test_a_server_image_missing_on_the_remote_engine_says_how_to_copy_it(tmp_path, monkeypatch):
    remote = Lab("1", {0}, tmp_path, server_engine="tcp://server:2375", server_address="192.0.2.7")
    monkeypatch.setattr(lab.containers, "named", lambda prefix, engine=None: [])
    monkeypatch.setattr(lab.containers, "image_id", lambda image, engine=None: None)
    target = SimpleNamespace(run_spec=lambda python, settings: ("connlab/server:t", {}), port=7000)
    with pytest.raises(lab.LabError, match=r"docker save connlab/server:t \| docker -H tcp://server:2375 load"):
        remote.start_server(target, "3.13", {})


def test_an_engine_without_an_address_is_refused_before_anything_runs():
    result = subprocess.run([sys.executable, "-m", "connlab_compare", "--server-engine", "ssh://user@server"],
                            cwd=ROOT, env={"PYTHONPATH": "services:loadgen:experiments", "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2 and "SERVER_ENGINE and SERVER_ADDRESS go together" in result.stderr
