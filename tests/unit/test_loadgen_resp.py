"""The client's RESP codec (connlab_loadgen.resp): requests encoded, replies decoded,
and the experiments' agent reading one raw reply with it."""

import socket
import threading
import time

import pytest

from connlab_loadgen import agent
from connlab_loadgen.resp import Decoder, ProtocolError, ReplyError, bulk, encode


def test_encode_is_a_resp_array_of_bulk_strings():
    assert encode("PING") == b"*1\r\n$4\r\nPING\r\n"
    assert encode("ECHO", b"ab\r\n") == b"*2\r\n$4\r\nECHO\r\n$4\r\nab\r\n\r\n"
    assert encode("WORK", 250) == b"*2\r\n$4\r\nWORK\r\n$3\r\n250\r\n"
    assert bulk(b"") == b"$0\r\n\r\n"


def test_a_request_decodes_to_its_arguments():
    payload = bytes(range(256)) + b"\r\n*3\r\n"
    assert Decoder().decode(encode(b"ECHO", payload)) == [[b"ECHO", payload]]


# Each kind of reply the server writes, and what the decoder makes of it.
REPLIES = [
    (b"+PONG\r\n", b"PONG"),  # simple string
    (b":42\r\n", 42),  # integer
    (bulk(b"a\r\nb"), b"a\r\nb"),  # bulk string, binary-safe
    (bulk(b""), b""),
    (b"$-1\r\n", None),  # null bulk string
    (b"*2\r\n$4\r\nsave\r\n$0\r\n\r\n", [b"save", b""]),  # array (CONFIG GET)
    (b"*0\r\n", []),
]


@pytest.mark.parametrize("wire, reply", REPLIES)
def test_every_reply_kind_decodes(wire, reply):
    assert Decoder().decode(wire) == [reply]


def test_an_error_reply_is_a_reply_error():
    (reply,) = Decoder().decode(b"-ERR unknown command 'X'\r\n")
    assert isinstance(reply, ReplyError) and str(reply) == "ERR unknown command 'X'"


def test_replies_split_anywhere_decode_whole_and_in_order():
    stream = b"".join(wire for wire, _ in REPLIES) + b"-ERR no\r\n"
    for cut in range(1, len(stream)):
        decoder = Decoder()
        got = decoder.decode(stream[:cut]) + decoder.decode(stream[cut:])
        assert got[:-1] == [reply for _, reply in REPLIES] and isinstance(got[-1], ReplyError)


def test_a_partial_reply_waits_for_the_rest():
    decoder = Decoder()
    assert decoder.decode(b"$5\r\nhel") == []
    assert decoder.decode(b"lo\r\n+OK") == [b"hello"]
    assert decoder.gets() is False
    decoder.feed(b"\r\n")
    assert decoder.gets() == b"OK"


def test_bytes_that_are_no_reply_raise_protocol_error():
    with pytest.raises(ProtocolError):
        Decoder().decode(b"?what\r\n")


def test_the_agents_probe_stops_at_the_end_of_one_reply():
    """The experiments' agent reads INFO's raw text: its bytes up to the reply's end,
    however they arrive, while the connection stays open."""
    text = b"# Memory\r\nused_memory_rss:123456\r\n"
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def serve():
            conn, _ = listener.accept()
            with conn:
                conn.recv(1024)
                wire = bulk(text)
                conn.sendall(wire[:7])
                time.sleep(0.05)
                conn.sendall(wire[7:])
                conn.recv(1024)  # open until the client closes

        server = threading.Thread(target=serve)
        server.start()
        raw = agent.probe(f"tcp://127.0.0.1:{listener.getsockname()[1]}", ["INFO", "memory"])
        server.join(5)
    assert raw == bulk(text).decode()
