"""Property-based tests of the HTTP/1.1 request parser (protocols/http.py, on httptools).

Generated valid requests (every route, bodies by length or chunked, HTTP/1.0 and 1.1,
headers in any case) must parse the same however the bytes are split, and a pipeline
must yield its requests in order; malformed input must raise ProtocolError with the
status the spec gives it, never another exception.
"""

import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

pytest.importorskip("httptools")

from connlab.protocols import ProtocolError  # noqa: E402
from connlab.protocols.http import Http, Limits  # noqa: E402
from http_wire import request  # noqa: E402

SMALL = Limits(max_header=1024, max_body=2048)
QUICK = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

token = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=12)
header_value = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40)
extra_headers = st.lists(
    st.tuples(token.filter(lambda t: t.lower() not in {"content-length", "transfer-encoding", "connection", "host", "upgrade", "expect", "trailer"}), header_value),
    max_size=4,
)
body = st.binary(max_size=SMALL.max_body // 2)


@st.composite
def valid_request(draw):
    """The bytes of one request the server accepts, keep-alive (no Connection: close)."""
    headers = draw(extra_headers)
    version = draw(st.sampled_from(["1.1", "1.0"]))
    if version == "1.0":
        headers.append(("Connection", draw(st.sampled_from(["keep-alive", "Keep-Alive"]))))
    route = draw(st.sampled_from(["ping", "echo", "echo-chunked", "sleep", "work", "info", "unknown", "wrong-method"]))
    if route == "echo":
        return request("POST", "/echo", draw(body), version=version, headers=headers)
    if route == "echo-chunked":
        data = draw(body)
        cuts = sorted(set(draw(st.lists(st.integers(0, len(data)), max_size=5))))
        chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]
        return request("POST", "/echo", version="1.1", headers=headers, chunks=chunks)
    path = {
        "ping": "/ping",
        "sleep": f"/sleep?ms={draw(st.integers(0, 10))}",
        "work": f"/work?us={draw(st.integers(0, 10))}",
        "info": "/info",
        "unknown": "/" + draw(token),
        "wrong-method": "/ping",
    }[route]
    method = "POST" if route == "wrong-method" else "GET"
    return request(method, path, b"" if method == "POST" else None, version=version, headers=headers)


def split(data, cuts):
    """`data` cut at the positions in `cuts` (taken modulo its length)."""
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)])]


def described(requests):
    """Requests as comparable values: the command and arguments, and what the reply
    needs (list equality alone would not compare those)."""
    return [(list(r), r.close, r.header, r.refusal) for r in requests]


def feed_pieces(pieces, limits=SMALL):
    parser, parsed = Http(limits), []
    for piece in pieces:
        parsed.extend(parser.feed(piece))
    return described(parsed)


def parse(data, limits=SMALL):
    return described(Http(limits).feed(data))


@QUICK
@given(st.lists(valid_request(), min_size=1, max_size=6), st.lists(st.integers(min_value=0), max_size=40))
def test_split_anywhere_parses_the_same(requests, cuts):
    stream = b"".join(requests)
    whole = parse(stream)
    assert len(whole) == len(requests)
    assert feed_pieces(split(stream, cuts)) == whole


@QUICK
@given(st.lists(valid_request(), min_size=1, max_size=8))
def test_a_pipeline_yields_its_requests_in_order(requests):
    one_by_one = [parse(data) for data in requests]
    assert all(len(parsed) == 1 for parsed in one_by_one)
    assert parse(b"".join(requests)) == [parsed[0] for parsed in one_by_one]


@QUICK
@given(valid_request())
def test_byte_at_a_time(data):
    assert feed_pieces([data[i : i + 1] for i in range(len(data))]) == parse(data)


STATUSES = {400, 413, 431}  # what the parser itself refuses with (408, 503: the server's)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(min_value=0), max_size=10))
@example(b"GET / HTTP/1.1\r\n\r\n\x00", [])
@example(b"\r\n\r\n", [])
def test_arbitrary_bytes_raise_only_protocol_error(data, cuts):
    parser = Http(SMALL)
    try:
        for piece in split(data, cuts):
            parser.feed(piece)
    except ProtocolError as exc:
        assert exc.status in STATUSES, exc


@QUICK
@given(valid_request(), st.binary(min_size=1, max_size=40).filter(lambda b: not b[:1].isalpha()))
def test_requests_before_an_error_are_kept(data, junk):
    """Garbage after complete requests: ProtocolError 400 carries the ones before it."""
    with pytest.raises(ProtocolError) as caught:
        parse(data + b"\x00" + junk + b"\r\n\r\n")
    assert caught.value.status == 400
    assert described(caught.value.requests) == parse(data)


MALFORMED = {
    "not-http": (b"HELLO\r\n\r\n", 400),
    "no-colon": (b"GET /ping HTTP/1.1\r\nHost: x\r\nbroken\r\n\r\n", 400),
    "bad-length": (b"POST /echo HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400),
    "te-and-cl": (b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400),
    "cl-and-te": (b"POST /echo HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    "two-lengths": (b"POST /echo HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400),
    "bad-chunk": (b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    "long-line": (b"GET /" + b"x" * 2000 + b" HTTP/1.1\r\n\r\n", 431),
    "long-header": (b"GET / HTTP/1.1\r\nX: " + b"y" * 2000 + b"\r\n\r\n", 431),
    "announced-body": (b"POST /echo HTTP/1.1\r\nContent-Length: 2049\r\n\r\n", 413),
    "huge-body": (b"POST /echo HTTP/1.1\r\nContent-Length: 99999999999999\r\n\r\n", 413),
    "chunked-over": (b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" + b"z" * 2048 + b"\r\n1\r\nz\r\n", 413),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_input_has_its_status(name):
    data, status = MALFORMED[name]
    with pytest.raises(ProtocolError) as caught:
        parse(data)
    assert caught.value.status == status


@pytest.mark.parametrize("name", MALFORMED)
@given(cuts=st.lists(st.integers(min_value=0), max_size=20))
@settings(max_examples=30, deadline=None)
def test_malformed_input_has_its_status_however_split(name, cuts):
    data, status = MALFORMED[name]
    with pytest.raises(ProtocolError) as caught:
        feed_pieces(split(data, cuts))
    assert caught.value.status == status


def test_oversized_head_refused_before_it_ends():
    """431 as soon as the head passes MAX_HEADER, not when it ends (it may never)."""
    parser = Http(SMALL)
    parser.feed(b"GET /ping HTTP/1.1\r\n")
    with pytest.raises(ProtocolError) as caught:
        for _ in range(SMALL.max_header):
            parser.feed(b"X-Pad: 0123456789\r\n")
    assert caught.value.status == 431


@QUICK
@given(st.lists(valid_request(), min_size=0, max_size=4), valid_request(), st.integers(min_value=1))
@example([request("POST", "/echo", chunks=[b"x" * 100])], request("GET", "/ping"), 20)
@example([request("POST", "/echo", b"y" * 50 + b"\r\n\r\n")], request("GET", "/ping"), 20)
def test_an_unfinished_head_is_timed_however_it_follows(requests, last, cut):
    """A head left unfinished after complete requests in the same read (whatever their
    bodies hold) is answered 408 once HEADER_TIMEOUT has passed, not before."""
    head_start = last[: 1 + cut % (last.index(b"\r\n\r\n") + 2)]  # not its blank line
    parser = Http(Limits(max_header=1024, max_body=2048, header_timeout=1))
    fed = time.monotonic()
    assert len(parser.feed(b"".join(requests) + head_start)) == len(requests)
    assert parser.stalled(fed) is None
    reply = parser.stalled(time.monotonic() + 1.5)
    assert reply is not None and reply.startswith(b"HTTP/1.1 408 Request Timeout\r\n")


EXPECTING = [("Expect", "100-continue")]


@QUICK
@given(st.lists(valid_request(), max_size=3), st.binary(min_size=1, max_size=64), st.lists(st.integers(min_value=0), max_size=8))
def test_100_continue_is_owed_once_when_its_head_has_ended(requests, payload, cuts):
    """However the requests before it and the waiting head are split, 100 Continue is owed
    once, after the read that ends the head; the body then completes its request."""
    data = request("POST", "/echo", payload, headers=EXPECTING)
    head = data[: data.index(b"\r\n\r\n") + 4]
    stream = b"".join(requests) + head
    parser, owed, parsed = Http(SMALL), [], []
    for piece in split(stream, cuts):
        if piece:  # a read is never empty
            parsed.extend(parser.feed(piece))
            owed.append(parser.owed())
    assert [o for o in owed if o is not None] == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    assert owed[-1] is not None  # it was owed by the read that ended the head
    assert len(parsed) == len(requests)
    assert parser.feed(payload) == [[b"ECHO", payload]] and parser.owed() is None


@pytest.mark.parametrize(
    "data",
    [
        request("POST", "/echo", b"abc", headers=EXPECTING),  # the body came with the head
        request("POST", "/echo", b"abc", version="1.0", headers=EXPECTING)[:-3],  # HTTP/1.0 ignores it
        request("GET", "/ping", headers=EXPECTING),  # no body to wait for
        request("POST", "/echo", b"abc", headers=[("Expect", "something-else")])[:-3],
    ],
    ids=["with-body", "http-1.0", "no-body", "other-expectation"],
)
def test_100_continue_is_not_owed(data):
    parser = Http(SMALL)
    parser.feed(data)
    assert parser.owed() is None


def test_a_body_over_the_limit_is_refused_instead_of_continued():
    """A final status the head decides (413) is sent instead of 100 Continue."""
    parser = Http(SMALL)
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n" % (SMALL.max_body + 1)
    with pytest.raises(ProtocolError) as caught:
        parser.feed(head)
    assert caught.value.status == 413
