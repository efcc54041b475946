"""Limits, hostile clients and graceful shutdown, for every architecture and mode."""

import threading

import pytest

from conftest import BUILDS_AND_CONFIGS, CONFIGS, run_server, wait_until
from connlab_loadgen.resp import Decoder, bulk
from metrics_util import scrape, settled, total
from wire import exchange

pytestmark = pytest.mark.integration

LIMITS = {"MAX_CONNECTIONS": 8, "IDLE_TIMEOUT": 2, "SHUTDOWN_GRACE": 5, "MAX_PENDING": 64}
NO_HEALTHCHECK = {"healthcheck": {"test": ["NONE"]}}  # its PINGs would skew the counts


@pytest.fixture(scope="module", params=BUILDS_AND_CONFIGS)
def config(request, docker_client):
    python, name = request.param
    return python, *CONFIGS[name]


@pytest.fixture(scope="module")
def server(config):
    python, arch, env = config
    with run_server(arch, python=python, docker=NO_HEALTHCHECK, **{**LIMITS, **env}) as server:
        server.arch = arch
        yield server


def closed_by_server(sock, timeout):
    """True if the server closes `sock` within `timeout` seconds (reads until EOF)."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


def test_max_connections(server):
    wait_until(lambda: total(scrape(server), "connlab_connections_active") == 0, 10, "no open connections")
    held = [server.connect() for _ in range(LIMITS["MAX_CONNECTIONS"])]
    try:
        for sock in held:  # each is admitted and served
            assert exchange(sock, b"PING\r\n", b"+PONG\r\n")
        with server.connect() as extra:
            assert extra.recv(100) == b"-ERR max connections reached\r\n"
            assert closed_by_server(extra, 5)
        assert all(exchange(sock, b"ECHO ok\r\n", b"$2\r\nok\r\n") for sock in held)
        held.pop().close()
        # A slot is free again once the server has seen that close.
        wait_until(lambda: ping_on_new_connection(server), 10, "the freed slot to admit a connection")
    finally:
        for sock in held:
            sock.close()
    assert total(scrape(server), "connlab_connections_rejected_total") >= 1


def ping_on_new_connection(server):
    with server.connect() as sock:
        return exchange(sock, b"PING\r\n", b"+PONG\r\n")


def test_idle_connections_are_closed(server):
    with server.connect() as idle, server.connect() as dribbler:
        dribbler.sendall(b"*2\r\n$4\r\nECHO\r\n$10\r\nab")  # never completes the request
        assert closed_by_server(idle, LIMITS["IDLE_TIMEOUT"] + 5)
        assert closed_by_server(dribbler, LIMITS["IDLE_TIMEOUT"] + 5)


def test_a_dribbling_client_holds_no_event_loop_hostage(server, config):
    """A request sent a byte at a time leaves the others served meanwhile."""
    if server.arch == "multi-acceptor" and config[2].get("ACCEPT_MODE") == "blocking":
        pytest.skip("a blocking reader is the dribbler's: it costs one thread until IDLE_TIMEOUT")
    with server.connect() as dribbler:
        dribbler.sendall(b"*1\r\n$4\r\nPI")
        with server.connect() as other:
            assert exchange(other, b"ECHO meanwhile\r\n", b"$9\r\nmeanwhile\r\n")
        assert exchange(dribbler, b"NG\r\n", b"+PONG\r\n")


def test_pipelining_without_reading_is_bounded(server):
    """Backpressure: the server stops reading a client that does not read its replies,
    so the client cannot push an unbounded amount; nothing sent is lost."""
    request = b"ECHO " + b"x" * 1000 + b"\r\n"
    reply = b"$1000\r\n" + b"x" * 1000 + b"\r\n"
    budget = 64 * 1024 * 1024
    with server.connect(timeout=30) as sock:
        sock.settimeout(2)
        sent = 0
        try:
            while sent < budget:
                sent += sock.send(request * 64)
        except TimeoutError:
            pass
        assert sent < budget, "the server read 64 MiB of requests without the client reading a reply"
        # Now read, and finish the request that was cut in half: all must be answered.
        sock.settimeout(30)
        expected = -(-sent // len(request)) * len(reply)
        got = bytearray()
        reader = threading.Thread(target=_read_until, args=(sock, got, expected))
        reader.start()
        sock.sendall(request[sent % len(request) :] if sent % len(request) else b"")
        reader.join()
        assert len(got) == expected
        assert got[: len(reply)] == reply and got[-len(reply) :] == reply


def _read_until(sock, into, length):
    while len(into) < length and (chunk := sock.recv(1 << 20)):
        into += chunk


def test_disconnects_mid_request_leave_nothing_behind(server):
    baseline = scrape(server)
    for _ in range(5):
        with server.connect() as sock:  # mid-request
            sock.sendall(b"*2\r\n$4\r\nECHO\r\n$100\r\nabc")
        with server.connect() as sock:  # mid-pipeline, replies never read
            sock.sendall(b"ECHO " + b"y" * 500 + b"\r\n" + b"PING\r\n" * 2000)
        with server.connect() as sock:  # while its reply is being made
            sock.sendall(b"SLEEP 50\r\nECHO late\r\n")
    wait_until(lambda: settled(server, baseline), 20, "connections, threads and fds back to baseline")


@pytest.mark.parametrize("clients", [4])
def test_sigterm_drains_without_half_replies(config, clients):
    """Under pipelined load, `docker stop` ends with exit 0, and every connection got
    whole replies, in order, for a prefix of its requests: never half a reply."""
    python, arch, env = config
    with run_server(arch, python=python, docker=NO_HEALTHCHECK, **{**LIMITS, **env}) as server:
        received = [bytearray() for _ in range(clients)]
        started = threading.Barrier(clients + 1)

        def pipeline(index):
            with server.connect(timeout=30) as sock:
                ended = threading.Event()  # the server sent FIN: stop sending, then close
                reader = threading.Thread(target=_read_all, args=(sock, received[index], ended))
                reader.start()
                started.wait()
                try:
                    for n in range(100_000):
                        if ended.is_set():
                            break
                        sock.sendall(b"ECHO c%d-%d\r\n" % (index, n))
                except OSError:
                    pass  # the server closed: that is the point
                reader.join()

        threads = [threading.Thread(target=pipeline, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        started.wait()
        wait_until(lambda: total(scrape(server), "connlab_requests_total", command="ECHO") > 1000, 20, "load")
        container = server.container.get_wrapped_container()
        container.stop(timeout=LIMITS["SHUTDOWN_GRACE"] + 5)  # SIGTERM, then SIGKILL
        for thread in threads:
            thread.join(30)
        container.reload()
        assert container.attrs["State"]["ExitCode"] == 0
    for index, data in enumerate(received):
        replies = Decoder().decode(bytes(data))
        assert replies == [b"c%d-%d" % (index, n) for n in range(len(replies))]
        assert b"".join(map(bulk, replies)) == data, f"connection {index} ended in half a reply"


def _read_all(sock, into, ended):
    try:
        while chunk := sock.recv(1 << 16):
            into += chunk
    except OSError:
        pass
    ended.set()
