"""The client's HTTP codec (connlab_loadgen.http): requests written from their templates,
responses decoded whole, split, pipelined and chunked; the registry that picks a codec
by protocol name; a mix in HTTP, in per-request mode too; the experiments' agent's
probe in HTTP."""

import socket
import threading
import time

import httptools
import pytest

from connlab_loadgen import agent, http, protocols, resp
from connlab_loadgen.commands import Command
from connlab_loadgen.http import Decoder, ProtocolError, ReplyError, encode
from connlab_loadgen.options import Mix, default_protocol


def response(status, body=b"", reason="OK", extra=b""):
    """A response as the server writes it (docs/protocol.md): this order of headers."""
    return (b"HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
            b"Date: Sun, 06 Dec 2026 10:00:00 GMT\r\n%s\r\n%s" % (status, reason.encode(), len(body), extra, body))


class Requests:
    """Parses requests with httptools' request parser, as the server does."""

    def __init__(self):
        self.parsed, self._parser = [], httptools.HttpRequestParser(self)

    def on_message_begin(self):
        self.url, self.headers, self.body = b"", {}, b""

    def on_url(self, url):
        self.url += url

    def on_header(self, name, value):
        self.headers[name.decode().lower()] = value.decode()

    def on_body(self, body):
        self.body += body

    def on_message_complete(self):
        self.parsed.append((self._parser.get_method(), self.url, self.headers, self.body,
                            self._parser.should_keep_alive()))

    def feed(self, data):
        self._parser.feed_data(data)
        return self.parsed


def test_each_command_is_its_route():
    assert encode("PING", host="hybrid:7000") == b"GET /ping HTTP/1.1\r\nHost: hybrid:7000\r\n\r\n"
    assert encode("ECHO", b"ab\r\n") == b"POST /echo HTTP/1.1\r\nHost: connlab\r\nContent-Length: 4\r\n\r\nab\r\n"
    assert encode("SLEEP", 5).startswith(b"GET /sleep?ms=5 HTTP/1.1\r\n")
    assert encode(b"work", 250).startswith(b"GET /work?us=250 HTTP/1.1\r\n")
    assert encode("INFO").startswith(b"GET /info HTTP/1.1\r\n")


def test_requests_parse_as_a_server_reads_them():
    payload = bytes(range(256))
    wire = encode("PING") + encode("ECHO", payload) + encode("WORK", 100, close=True)
    (ping, echo, work) = Requests().feed(wire)
    assert ping[:2] == (b"GET", b"/ping") and ping[2]["host"] == "connlab" and ping[4]  # keep-alive
    assert echo[:2] == (b"POST", b"/echo") and echo[3] == payload
    assert work[:2] == (b"GET", b"/work?us=100") and work[2]["connection"] == "close" and not work[4]


@pytest.mark.parametrize("args", [(), ("FLUSHALL",), ("PING", "x"), ("ECHO",), ("SLEEP", 1, 2), ("INFO", "memory")])
def test_a_command_http_has_no_request_for_is_refused(args):
    with pytest.raises(ValueError):
        encode(*args)


def test_a_response_decodes_to_its_body():
    assert Decoder().decode(response(200, b"PONG")) == [b"PONG"]
    assert Decoder().decode(response(204)) == [b""]


def test_a_chunked_response_decodes_to_its_whole_body():
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"
    assert Decoder().decode(chunked) == [b"abcde"]


def test_pipelined_responses_decode_in_order():
    stream = response(200, b"PONG") + response(200, b"x" * 1000) + response(404, b"no route", "Not Found")
    got = Decoder().decode(stream)
    assert got[:2] == [b"PONG", b"x" * 1000] and isinstance(got[2], ReplyError) and got[2].status == 404


def test_responses_split_anywhere_decode_whole_and_in_order():
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    stream = response(200, b"PONG") + chunked + response(200, b"a\r\n\r\nb") + response(400, b"bad ms", "Bad Request")
    for cut in range(1, len(stream)):
        decoder = Decoder()
        got = decoder.decode(stream[:cut]) + decoder.decode(stream[cut:])
        assert got[:3] == [b"PONG", b"abc", b"a\r\n\r\nb"] and got[3].status == 400, cut


def test_a_partial_response_waits_for_the_rest():
    decoder = Decoder()
    wire = response(200, b"hello")
    assert decoder.decode(wire[:-2]) == [] and decoder.gets() is False
    decoder.feed(wire[-2:])
    assert decoder.gets() == b"hello" and decoder.gets() is False


def test_a_non_2xx_status_is_a_reply_error_naming_status_and_body():
    (refused,) = Decoder().decode(response(400, b"ERR value is not an integer\r\nmore", "Bad Request"))
    assert isinstance(refused, ReplyError) and str(refused) == "400 Bad Request: ERR value is not an integer"
    (moved,) = Decoder().decode(response(301, reason="Moved Permanently"))
    assert str(moved) == "301 Moved Permanently"
    assert str(ReplyError(599)) == "599 (unknown status)"


@pytest.mark.parametrize("garbage", [b"+PONG\r\n", b"HTTP/1.1 abc OK\r\n\r\n",
                                     b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"])
def test_bytes_that_are_no_response_raise_protocol_error(garbage):
    with pytest.raises(ProtocolError):
        Decoder().decode(garbage)


def test_the_registry_picks_the_codec_by_name():
    assert protocols.codec("resp") is resp and protocols.codec("http") is http
    assert protocols.NAMES[0] == "resp"  # the default
    with pytest.raises(ValueError, match="known: resp, http"):
        protocols.codec("gopher")


def test_the_default_protocol_is_the_servers_setting():
    assert default_protocol({}) == default_protocol({"PROTOCOL": ""}) == "resp"
    assert default_protocol({"PROTOCOL": "http"}) == "http"
    with pytest.raises(ValueError):
        default_protocol({"PROTOCOL": "gopher"})


def test_an_http_mix_expects_the_same_replies_as_resp():
    http_mix = Mix.parse("PING:1,ECHO:1,WORK:1,SLEEP:1", echo_bytes=4, protocol="http", host="h:7000")
    resp_mix = Mix.parse("PING:1,ECHO:1,WORK:1,SLEEP:1", echo_bytes=4)
    assert [(c.name, c.expected) for c in http_mix.commands] == [(c.name, c.expected) for c in resp_mix.commands]
    assert [c.wire.split(b" ", 2)[:2] for c in http_mix.commands] == [
        [b"GET", b"/ping"], [b"POST", b"/echo"], [b"GET", b"/work?us=100"], [b"GET", b"/sleep?ms=10"]]
    assert Command.ping(http, "h:7000").wire == encode("PING", host="h:7000")


def test_per_request_mode_closes_with_the_last_request_of_a_pipeline():
    mix = Mix.parse("PING:1,ECHO:1", protocol="http", closing=True)
    commands, wire = mix.pick(3)
    parsed = Requests().feed(wire)
    assert [keep_alive for *_, keep_alive in parsed] == [True, True, False]
    assert [url for _, url, *_ in parsed] == [b"/echo" if c.name.startswith("ECHO") else b"/ping" for c in commands]


def test_redis_dialect_is_resp_only():
    with pytest.raises(ValueError, match="dialect redis"):
        Mix.parse("PING:1", dialect="redis", protocol="http")


def test_the_agents_probe_reads_one_http_response():
    """The experiments' agent reads INFO's raw response, however it arrives, while the
    connection stays open (as in RESP: test_loadgen_resp.py)."""
    wire = response(200, b"arch:hybrid\r\nprotocol:http\r\n")
    with socket.create_server(("127.0.0.1", 0)) as listener:
        requests = []

        def serve():
            conn, _ = listener.accept()
            with conn:
                requests.extend(Requests().feed(conn.recv(1024)))
                conn.sendall(wire[:30])
                time.sleep(0.05)
                conn.sendall(wire[30:])
                conn.recv(1024)  # open until the client closes

        server = threading.Thread(target=serve)
        server.start()
        port = listener.getsockname()[1]
        raw = agent.probe(f"tcp://127.0.0.1:{port}", ["INFO"], protocol="http")
        server.join(5)
    assert raw == wire.decode()
    assert [(method, url, headers["host"]) for method, url, headers, *_ in requests] == [
        (b"GET", b"/info", f"127.0.0.1:{port}")]
