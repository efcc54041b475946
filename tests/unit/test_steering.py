"""Steering an SO_REUSEPORT group with a classic BPF program, on real loopback sockets:
by CPU every connection made from one CPU goes to that CPU's socket; at random they
spread; a refusal says what to do."""

import os
import selectors
import socket

import pytest

from connlab import steering
from connlab.listener import open_listener


@pytest.fixture
def group():
    first = open_listener("127.0.0.1", 0, 64, reuse_port=True)
    port = first.getsockname()[1]
    listeners = [first, open_listener("127.0.0.1", port, 64, reuse_port=True)]
    yield listeners
    for sock in listeners:
        sock.close()


def where_they_land(listeners, count):
    """Connect `count` times; how many each listener accepted."""
    clients = [socket.create_connection(listeners[0].getsockname(), timeout=2) for _ in range(count)]
    landed = [0] * len(listeners)
    with selectors.DefaultSelector() as selector:
        for index, sock in enumerate(listeners):
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, index)
        while sum(landed) < count:
            events = selector.select(timeout=2)
            assert events, f"only {sum(landed)} of {count} connections arrived"
            for key, _ in events:
                try:
                    accepted, _ = key.fileobj.accept()
                except BlockingIOError:
                    continue
                accepted.close()
                landed[key.data] += 1
    for client in clients:
        client.close()
    return landed


@pytest.mark.parametrize("cpu", sorted(os.sched_getaffinity(0))[:2])
def test_by_cpu_a_connection_goes_to_the_socket_of_its_cpu(group, cpu):
    steering.steer(group, "cpu")
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})  # loopback: the SYN is handled on the connecting CPU
    try:
        landed = where_they_land(group, 20)
    finally:
        os.sched_setaffinity(0, allowed)
    expected = [0, 0]
    expected[cpu % 2] = 20
    assert landed == expected


def test_at_random_connections_spread(group):
    steering.steer(group, "random")
    landed = where_they_land(group, 60)
    assert min(landed) > 0  # all 60 on one socket: one chance in 2**59


def test_the_program_is_three_instructions_modulo_the_group():
    code = steering.program("random", 4)
    assert [(i.code, i.k) for i in code] == [(0x20, 0xFFFFF000 + 56), (0x94, 4), (0x16, 0)]


def test_a_refusal_says_what_to_do():
    lonely = socket.socket()  # not a reuseport group member: the kernel refuses the program
    try:
        with pytest.raises(steering.SteeringError, match="STEERING=hash"):
            steering.steer([lonely, lonely], "cpu")
    finally:
        lonely.close()
