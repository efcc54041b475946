"""The Locust users: TcpUser owns a TcpClient (Locust's custom-client pattern) that
speaks the --protocol; ConnlabUser runs the configured mix, connection mode, pipeline
and rate, the same in every protocol."""

import time
from urllib.parse import urlsplit

import gevent
from locust import User, constant, task

from . import errors, metrics, protocols
from .client import TcpClient
from .options import Mix
from .schedule import Pacer, user_interval

DEFAULT_PORT = 7000
# After a failed connect, wait this long before the next: a server that is down must
# not turn the load generator into a busy loop of refused connects.
RECONNECT_BACKOFF_S = 0.05
# A user yields to the hub at least this often, whatever its replies do.
YIELD_EVERY_S = 0.01


def parse_host(host):
    """tcp://name:port (or name:port) -> (name, port)."""
    if not host:
        raise ValueError("no host: give --host tcp://<arch>:7000 (or fill the Host field)")
    parts = urlsplit(host if "://" in host else f"tcp://{host}")
    if parts.scheme != "tcp" or not parts.hostname:
        raise ValueError(f"host {host!r} is not tcp://<name>:<port>")
    return parts.hostname, parts.port or DEFAULT_PORT


class TcpUser(User):
    abstract = True
    # This class's own parameters (a Namespace like Locust's parsed options), for users
    # of several kinds in one test (the experiments' agent); None: Locust's.
    options = None

    def __init__(self, environment):
        super().__init__(environment)
        host, port = parse_host(self.host)
        timeout = getattr(self.parameters, "request_timeout", 5.0)
        codec = protocols.codec(getattr(self.parameters, "protocol", "resp"))
        self.client = TcpClient(environment, host, port, timeout=timeout, codec=codec)

    @property
    def parameters(self):
        return self.options or self.environment.parsed_options


class ConnlabUser(TcpUser):
    # The task loops by itself (see send): Locust's scheduler never waits between calls.
    # Closed loop: the next request goes as soon as its reply is in. Open loop and idle
    # mode pace themselves (Pacer) inside the task.
    wait_time = constant(0)

    def on_start(self):
        options = self.parameters
        self.mix = Mix.from_options(options, host=f"{self.client.host}:{self.client.port}")
        self.mode = options.connection_mode
        self.depth = 1 if self.mode == "idle" else max(1, options.pipeline)
        if self.mode == "idle":
            self.pacer = Pacer(options.idle_interval)
        elif options.rate > 0:
            self.pacer = Pacer(user_interval(options.rate, options.num_users or 1, self.depth))
        else:
            self.pacer = None
        metrics.ACTIVE_USERS.inc()
        if self.mode == "idle":
            self._guarded(self.client.connect)  # idle users hold their connection from the start

    def on_stop(self):
        self.client.close()
        self.client.recorder.flush()  # what this user recorded reaches the statistics
        metrics.ACTIVE_USERS.dec()

    def _guarded(self, call, *args):
        """Failures are already in Locust's table; here the user only carries on."""
        try:
            return call(*args)
        except errors.LoadgenFailure:
            self.client.close()
            gevent.sleep(RECONNECT_BACKOFF_S)
            return None

    @task
    def send(self):
        """Send until Locust stops this user (it kills the greenlet while it waits).
        Staying in this loop spares each request a trip through Locust's scheduler; a
        yield to the hub now and then keeps other greenlets (heartbeats, the web UI)
        running when replies come faster than this user waits for them."""
        clock, next_yield = time.perf_counter, 0.0
        while True:
            self.send_once()
            if clock() >= next_yield:
                gevent.sleep(0)
                next_yield = clock() + YIELD_EVERY_S

    def send_once(self):
        started = self.pacer.wait() if self.pacer else None
        commands, wire = self.mix.pick(self.depth)
        self._guarded(self.client.execute, commands, started, wire)
        if self.mode == "per-request":
            self.client.close()
