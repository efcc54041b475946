"""A client that leaves is let go in every state it can leave from, on every
architecture and build: its fd and MAX_CONNECTIONS slot come back at once, not when the
pool answers (lifecycle.py). Where a design has no such state, the test says why."""

import socket
import time

import pytest

from conftest import BUILDS_AND_CONFIGS, CONFIGS, run_server, wait_until
from connlab import designs
from metrics_util import scrape, settled, steady, total

pytestmark = pytest.mark.integration

SLEEP_MS = 3000  # what the pool works on while its client leaves
SETTINGS = {"MAX_PENDING": 2, "MAX_CONNECTIONS": 8, "IDLE_TIMEOUT": 0}
POOLED = {design.arch for design in designs.DESIGNS if design.pooled}  # requests wait on a worker pool


@pytest.fixture(scope="module", params=BUILDS_AND_CONFIGS)
def server(request, docker_client):
    python, name = request.param
    arch, env = CONFIGS[name]
    with run_server(arch, python=python, docker={"healthcheck": {"test": ["NONE"]}}, **{**SETTINGS, **env}) as server:
        server.arch = arch
        server.baseline = steady(server)
        yield server


def idle(server):
    """Nothing open, nothing queued, threads and fds back: the next test starts here."""
    return settled(server, server.baseline)


def leave(server, client):
    """Close `client`; wait until the server holds no connection; return the scrape
    that showed it and the seconds it took."""
    def let_go():
        samples = scrape(server)
        return samples if total(samples, "connlab_connections_active") == 0 else None

    left = time.monotonic()
    client.close()
    samples = wait_until(let_go, SLEEP_MS / 1000 + 5, "the departed client's connection to be let go")
    return samples, time.monotonic() - left


@pytest.mark.parametrize(
    "sent, in_flight, state",
    [
        (b"SLEEP %d\r\n" % SLEEP_MS, 1, "reading, a request at a worker"),
        (b"SLEEP %d\r\n" % SLEEP_MS * 3, 3, "paused at MAX_PENDING"),  # one read: all 3 go
        (b"SLEEP %d\r\n*1\r\n$x\r\n" % SLEEP_MS, 1, "draining, a protocol error held behind a request"),
    ],
    ids=["reading", "paused", "draining"],
)
def test_a_client_that_leaves_while_the_pool_works_is_let_go_first(server, sent, in_flight, state):
    if server.arch not in POOLED:
        pytest.skip("requests run on the reading thread: no connection waits on a pool")
    wait_until(lambda: idle(server), SLEEP_MS / 1000 + 10, "an idle server")
    client = server.connect()
    client.sendall(sent)
    wait_until(lambda: total(scrape(server), "connlab_queue_depth") == in_flight, 10, f"the connection {state}")
    samples, seconds = leave(server, client)
    print(f"{server.arch} {state}: let go after {seconds * 1000:.0f} ms")
    assert total(samples, "connlab_queue_depth") == in_flight, "let go only once the pool answered"
    wait_until(lambda: idle(server), SLEEP_MS / 1000 + 10, "the pool's late replies dropped, fds back")


# Run inside the server's container, on its loopback: the published port's userland
# proxy holds the server's side open while it cannot pass on what the client sent.
FILL_AND_LEAVE = """
import socket
client = socket.create_connection(("127.0.0.1", 7000))
client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
client.settimeout(1)
request = b"ECHO " + b"x" * 4000 + b"\\r\\n"
try:
    for _ in range(100_000):
        client.sendall(request * 16)
except TimeoutError:
    client.close()  # replies unread: a reset
    print("left while the server was not reading")
"""


def test_a_client_that_leaves_while_its_replies_wait_is_let_go(server):
    """The client reads nothing until the server stops reading it (backpressure), then
    leaves with replies unread."""
    wait_until(lambda: idle(server), SLEEP_MS / 1000 + 10, "an idle server")
    left = time.monotonic()
    code, output = server.container.get_wrapped_container().exec_run(["python", "-c", FILL_AND_LEAVE])
    assert code == 0 and b"left while the server was not reading" in output, output
    wait_until(lambda: idle(server), 10, "the connection let go, fds back to the baseline")
    print(f"{server.arch} writing: let go {(time.monotonic() - left) * 1000:.0f} ms after the client started")


def test_a_client_that_leaves_an_idle_connection_is_let_go(server):
    wait_until(lambda: idle(server), SLEEP_MS / 1000 + 10, "an idle server")
    client = server.connect()
    client.sendall(b"PING\r\n")
    assert client.recv(7) == b"+PONG\r\n"
    samples, seconds = leave(server, client)
    print(f"{server.arch} reading: let go after {seconds * 1000:.0f} ms")
    wait_until(lambda: idle(server), 10, "fds back to the baseline")
