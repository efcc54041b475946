"""The lab: a private Docker network, one server at a time in a fresh container on the
server CPUs, and the load generator's agents (one per load generator CPU) beside it.

Everything talks inside the network, container to container: the published-port proxy
would cost more than the servers do. Every container and the network are removed at
the end, whatever happens.

Or the server on another machine's engine (`server_engine`, an address as Docker
contexts take it), as a serious measurement puts the load apart from the server: it
runs there on that machine's network (host networking, as TechEmpower's servers do: no
proxy, no bridge), the clients dial `server_address`, and its CPU comes from that
engine's stats and that machine's /proc/stat (read in the server's container: it is not
namespaced), not from this machine's files.
"""

import json
import os
import re
import subprocess
import sys
import threading
import uuid

from connlab.config import cpu_list

from connlab_loadgen import AGENT_MARK as MARK
from connlab_loadgen import PHASE_MARK

from . import containers, noise, schedstat, targets
from .clients import MEASURED
# A client that opens thousands of connections a second holds each local port in
# TIME_WAIT for a minute after closing; without reuse the kernel's search for a free
# port soon costs more CPU than the load (the load generator measured itself).
CLIENT_SYSCTLS = {"net.ipv4.tcp_tw_reuse": "1", "net.ipv4.ip_local_port_range": "1024 65535"}
READY_SECONDS = 60


class LabError(Exception):
    pass


def every_cpu(engine=None):
    """The CPUs the server's machine lets the lab use, as --cpuset-cpus takes them ("0-1"):
    this machine's, or every CPU of another engine's."""
    return cpu_list(range(containers.info(engine)["NCPU"]) if engine else os.sched_getaffinity(0))


def server_alias(cell):
    """The server's name on the lab's network in one cell: a new name for every cell, so
    that what scrapes it by that name never reaches the server of another cell."""
    return re.sub(r"[^a-z0-9-]+", "-", f"{cell.scenario}-{cell.target}-{cell.python}-{cell.protocol}-r{cell.repeat}".lower())


class Agent:
    """One load generator process (connlab_loadgen.agent) in its container; what it logs
    goes to `log`."""

    def __init__(self, lab, cpu, index, log):
        self.name = f"{lab.name}-agent-{index}"
        # The CLI, not the SDK: its `run -i` gives the agent a plain stdin and stdout to
        # talk through, a pipe the SDK's attach socket would have to reframe.
        sysctls = [f"--sysctl={key}={value}" for key, value in CLIENT_SYSCTLS.items()]
        command = ["docker", "run", "-i", "--rm", "--name", self.name, "--network", lab.network,
                   "--cpuset-cpus", cpu, *sysctls, "--entrypoint", "python",
                   targets.image("loadgen"), "-m", "connlab_loadgen.agent"]  # fmt: skip
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)

    def send(self, request):
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()

    def receive(self, on_phase=None):
        """Its answer; `on_phase(phase)` is called as it says a measurement began or ended."""
        for line in self.process.stdout:
            if line.startswith(PHASE_MARK) and on_phase:
                on_phase(line[len(PHASE_MARK):].strip())
            elif line.startswith(MARK):
                reply = json.loads(line[len(MARK):])
                if "failed" in reply:
                    raise LabError(f"load generator: {reply['failed']}")
                return reply
        raise LabError(f"load generator {self.name} exited ({self.process.wait()}); see its log in the report's logs/")

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()


class Lab:
    def __init__(self, server_cpus, loadgen_cpus, logs, server_engine=None, server_address=None):
        self.name = f"connlab-compare-{uuid.uuid4().hex[:8]}"
        self.network = self.name
        self.server_cpus = server_cpus
        self.loadgen_cpus = loadgen_cpus
        self.logs = logs  # a folder: one log file per load generator
        self.agents = []
        self._log_files = []
        self._references = {}  # {C client's name: its container}, each started on first use
        self.server_id = None  # the running server's container id
        self.server = None  # and the container
        self.server_engine, self.server_address = server_engine, server_address
        self._clients = None  # (their names, {container id: CPU accounting file}) of the agents and the C client

    def __enter__(self):
        containers.network(self.network)
        self.logs.mkdir(parents=True, exist_ok=True)
        for index, cpu in enumerate(sorted(self.loadgen_cpus)):
            self._log_files.append(open(self.logs / f"loadgen-{index}.log", "w"))
            self.agents.append(Agent(self, str(cpu), index, self._log_files[-1]))
        return self

    def __exit__(self, *exc):
        for agent in self.agents:
            agent.close()
        for log in self._log_files:
            log.close()
        try:
            for engine in dict.fromkeys((None, self.server_engine)):
                try:
                    for container in containers.named(self.name, engine):
                        containers.remove(container)
                except containers.ContainerError as error:  # e.g. the other machine's engine gone: say so, go on
                    print(f"connlab: compare: could not remove the lab's containers: {error}", file=sys.stderr)
        finally:
            containers.remove_network(self.network)

    def start_server(self, target, python, settings, cpus=None, alias=None):
        """A fresh container running `target` (targets.Target) on the server CPUs (or
        `cpus`), also named `alias` on the network; returns its address."""
        self.stop_server()
        image, env = target.run_spec(python, settings)
        where = {"network_mode": "host", "engine": self.server_engine} if self.server_engine else \
            {"network": self.network, "aliases": ["target", *([alias] if alias else [])]}  # fmt: skip
        if self.server_engine and not containers.image_id(image, self.server_engine):
            raise LabError(f"{image} is not on the server's engine {self.server_engine}: copy it there with "
                           f"docker save {image} | docker -H {self.server_engine} load")  # fmt: skip
        self.server = containers.run(image, name=f"{self.name}-server", cpus=cpus or self.server_cpus, env=env,
                                     healthcheck={"test": ["NONE"]}, pids_limit=-1, **where)  # fmt: skip
        self.server_id = self.server.id
        containers.wait_ready(self.server, target.ready, READY_SECONDS, f"{target.name} on {python}")
        return f"tcp://{self.server_host()}:{target.port}"

    def server_host(self, alias="target"):
        """The server's name, as the clients and Prometheus reach it: on the lab's network
        (`alias`), or the address of the machine whose engine runs it."""
        return self.server_address if self.server_engine else alias

    def run_reference(self, client, argv, timeout=300):
        """The C client `client` (a class of clients.py) with `argv` in its container
        (started on first use, from the image its class names, on the load generator
        CPUs): (finished, its output and then its CPU times)."""
        container = self._references.get(client.name)
        if not container:
            container = f"{self.name}-cclient-{client.name}"
            containers.run(targets.image(client.image), ["infinity"], name=container, network=self.network,
                           cpus=cpu_list(self.loadgen_cpus), sysctls=CLIENT_SYSCTLS, entrypoint="sleep")  # fmt: skip
            self._references[client.name] = container
        script = MEASURED
        status, output = containers.execute(container, ["sh", "-c", script, "sh", *argv], timeout=timeout)
        return status == 0, output

    def snapshot(self, cpus):
        """noise.snapshot of the server's `cpus`: this machine's, or those of the machine
        whose engine runs the server (its /proc/stat read in the server's container)."""
        if not self.server_engine:
            return noise.snapshot(cpus, self.noise_files(cpus))
        server = self.server
        return noise.snapshot(cpus, {self.server_id: lambda: containers.cpu_usage(server)},
                              stat=lambda: containers.execute(server, ["cat", "/proc/stat"], timeout=10)[1])

    def noise_files(self, cpus):
        """{container id: its CPU accounting file} of the server and, where they run on
        `cpus` too, of the lab's own clients: what is not noise on those CPUs."""
        files = {self.server_id: noise.usage_file(self.server_id)}
        if not set(self.loadgen_cpus) <= set(cpus):
            return files
        names = tuple(agent.name for agent in self.agents) + tuple(self._references.values())
        if not self._clients or self._clients[0] != names:  # a C client starts on first use
            ids = [containers.get(name).id for name in names]
            self._clients = names, {cid: noise.usage_file(cid) for cid in ids}
        return {**files, **self._clients[1]}

    def server_threads(self):
        """The server container's threads' scheduler counters (schedstat.READ's output)."""
        status, output = containers.execute(self.server, ["sh", "-c", schedstat.READ], timeout=30)
        if status:
            raise LabError(f"the server's threads could not be read: {output.strip()[-200:]}")
        return output.strip()

    def stop_server(self):
        for container in containers.named(f"{self.name}-server", self.server_engine):
            containers.remove(container)
        self.server = None

    def ask_all(self, requests, on_phase=None):
        """Send requests[i] to agent i (the first one only, if fewer) at once; the replies.
        The first agent's phases go to `on_phase` (the agents start and stop together)."""
        agents = self.agents[: len(requests)]
        for agent, request in zip(agents, requests):
            agent.send(request)
        replies = [None] * len(agents)

        def receive(i):
            try:
                replies[i] = agents[i].receive(on_phase if i == 0 else None)
            except LabError as exc:
                replies[i] = exc

        threads = [threading.Thread(target=receive, args=(i,)) for i in range(len(agents))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for reply in replies:
            if isinstance(reply, LabError):
                raise reply
        return replies
