"""The fuzzer's HTTP/1.1 frames (tests/fuzz.py, PROTOCOL=http): valid requests with their
expected replies, malformed and oversized ones with the status that must refuse them,
garbage, and floods. Replies are compared as (status, body): their Date changes."""

from http_wire import ProtocolViolation, Replies, get, parse_head, post, request

# Small limits, so that over-limit frames are cheap to send.
LIMITS = {"PROTOCOL": "http", "MAX_HEADER": 2048, "MAX_BODY": 4096}
MAX_HEADER, MAX_BODY = LIMITS["MAX_HEADER"], LIMITS["MAX_BODY"]


def valid(rng, tag):
    """(request bytes, the expected (status, body)): every route, bodies by length or
    chunked, HTTP/1.0 keep-alive; never one that closes the connection."""
    kind = rng.randrange(8)
    if kind == 0:
        return get("/ping"), (200, b"PONG")
    if kind == 1:  # a tagged binary body, by length
        payload = tag + rng.randbytes(rng.randrange(256))
        return post("/echo", payload), (200, payload)
    if kind == 2:  # the same, chunked
        payload = tag + rng.randbytes(rng.randrange(512))
        cuts = sorted(rng.sample(range(len(payload) + 1), rng.randrange(min(6, len(payload) + 1))))
        chunks = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)])]
        return post("/echo", None, chunks=chunks), (200, payload)
    if kind == 3:
        return get("/sleep?ms=0"), (200, b"OK")
    if kind == 4:
        return get("/work?us=%d" % rng.randrange(50)), (200, b"OK")
    if kind == 5:
        return get("/ping", version="1.0", headers=[("Connection", "keep-alive")]), (200, b"PONG")
    if kind == 6:
        return get("/no/%s" % tag.decode()), (404, None)
    return post("/ping", tag), (405, None)


def malformed(rng):
    """(frame, status): a frame the server must refuse with `status`, then close."""
    letters = bytes(rng.choice(b"abcxyz") for _ in range(rng.randrange(1, 6)))
    te_and_cl = [("Transfer-Encoding", "chunked"), ("Content-Length", str(rng.randrange(1, 50)))]
    rng.shuffle(te_and_cl)
    choices = [
        (lambda: letters + b" / HTTP/1.1\r\n\r\n" if rng.random() < 0.5 else letters + b"\r\n\r\n", 400),
        (lambda: b"GET /ping HTTP/1.1\r\nHost: x\r\n" + letters + b"\r\n\r\n", 400),  # a header without a colon
        (lambda: request("POST", "/echo", headers=[("Content-Length", "1" + letters.decode())]), 400),
        (lambda: request("POST", "/echo", headers=te_and_cl), 400),
        (lambda: request("POST", "/echo", headers=[("Content-Length", "3"), ("Content-Length", "4")]) + b"abcd", 400),
        (lambda: request("POST", "/echo", headers=[("Transfer-Encoding", "chunked")]) + b"z" + letters + b"\r\nxx\r\n", 400),
        (lambda: get("/ping", headers=[("X-Big", "h" * (MAX_HEADER + rng.randrange(MAX_HEADER)))]), 431),
        (lambda: get("/" + "u" * (MAX_HEADER + 1 + rng.randrange(MAX_HEADER))), 431),
        (lambda: request("POST", "/echo", headers=[("Content-Length", str(MAX_BODY + 1 + rng.randrange(2**60)))]), 413),
    ]
    make, status = rng.choice(choices)
    return make(), status


def garbage(rng):
    """Random bytes, biased towards HTTP's own alphabet."""
    tokens = [b"GET ", b"POST ", b"/ping", b"/echo", b" HTTP/1.1", b" HTTP/1.0", b"\r\n", b"\n", b": ",
              b"Content-Length: ", b"Transfer-Encoding: chunked", b"Connection: keep-alive", b"0", b"5", b"ffff", b" "]  # fmt: skip
    parts = [rng.choice(tokens) if rng.random() < 0.6 else rng.randbytes(rng.randrange(1, 16)) for _ in range(rng.randrange(1, 40))]
    return b"".join(parts)


def flood(rng):
    """A request with a big reply, to pipeline and reset while it is being written."""
    return post("/echo", rng.randbytes(MAX_BODY))


def cut(rng):
    """A frame the fuzzer sends only a part of, then resets."""
    return rng.choice([malformed(rng)[0], post("/echo", rng.randbytes(200)), post("/echo", None, chunks=[rng.randbytes(100)] * 3)])


def read_replies(sock, expected):
    """The replies to the requests whose expected replies are `expected`, as (status,
    body) (body None where `expected` has None: any body)."""
    replies = Replies(sock)
    got = []
    for status, body in expected:
        reply = replies.next()
        got.append((reply.status, reply.body if body is not None else None))
    return got


def refused_after(got, expected, status):
    """True if the bytes `got` are the replies `expected`, then one `status` reply with
    Connection: close, and nothing more."""
    try:
        replies = list(split_replies(got))
    except ProtocolViolation:
        return False
    if len(replies) != len(expected) + 1:
        return False
    answered = [(r.status, r.body if body is not None else None) for r, (_, body) in zip(replies, expected)]
    last = replies[-1]
    return answered == list(expected) and last.status == status and last.closes


def split_replies(data):
    while data:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            raise ProtocolViolation(f"an unfinished reply head {data[:80]!r}")
        reply = parse_head(data[: end + 4])
        length = int(reply.header("Content-Length") or "-1")
        if length < 0 or len(data) < end + 4 + length:
            raise ProtocolViolation(f"a reply cut short {data[:80]!r}")
        reply.body, data = data[end + 4 : end + 4 + length], data[end + 4 + length :]
        yield reply


PING = get("/ping")


def pong(got):
    """True if `got` is the reply to PING."""
    try:
        replies = list(split_replies(got))
    except ProtocolViolation:
        return False
    return [(r.status, r.body) for r in replies] == [(200, b"PONG")]
