"""Property-based tests of the RESP request parser (issue 6).

Generated streams of valid requests (arrays of bulk strings and inline commands) must
parse the same however the bytes are split; arbitrary bytes must never raise anything
but ProtocolError; frames over the limits must fail without allocating what they announce.
"""

import gc
import tracemalloc

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from connlab.protocols import ProtocolError
from connlab.protocols.resp import Limits, Resp
from connlab_loadgen.resp import encode

SMALL = Limits(max_bulk=64, max_array=8, max_inline=64)
WHITESPACE = b" \t\n\r\x0b\x0c"  # what bytes.split() splits inline commands on

bulk_args = st.lists(st.binary(max_size=SMALL.max_bulk), min_size=1, max_size=SMALL.max_array)
word = st.binary(min_size=1, max_size=8).filter(lambda w: not any(b in WHITESPACE for b in w))


@st.composite
def inline_command(draw):
    words = draw(st.lists(word, min_size=1, max_size=4))
    first = words[0]
    if first.startswith(b"*"):  # a leading '*' would make it an array header
        words[0] = b"X" + first
    line = b" ".join(words)
    if len(line) > SMALL.max_inline:
        line = line[: SMALL.max_inline].rstrip()
    return line.split(), line + draw(st.sampled_from([b"\r\n", b"\n"]))


@st.composite
def array_command(draw):
    args = draw(bulk_args)
    return args, encode(*args)


requests = st.lists(st.one_of(inline_command(), array_command()), min_size=1, max_size=12)


def split(data, cuts):
    """`data` cut at the (sorted, deduplicated) positions in `cuts`."""
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)])]


def feed_pieces(parser, pieces):
    parsed = []
    for piece in pieces:
        parsed.extend(parser.feed(piece))
    return parsed


@given(requests, st.lists(st.integers(min_value=0), max_size=40))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_any_split_parses_to_the_same_requests(stream, cuts):
    expected = [args for args, _ in stream]
    data = b"".join(frame for _, frame in stream)
    assert Resp(SMALL).feed(data) == expected
    assert feed_pieces(Resp(SMALL), split(data, cuts)) == expected


@given(requests)
@settings(max_examples=100)
def test_byte_at_a_time_parses_to_the_same_requests(stream):
    data = b"".join(frame for _, frame in stream)
    assert feed_pieces(Resp(SMALL), [data[i : i + 1] for i in range(len(data))]) == [a for a, _ in stream]


# Bytes biased towards RESP's own alphabet, so that the parser gets deep into frames.
resp_ish = st.lists(
    st.one_of(
        st.sampled_from([b"*", b"$", b"\r\n", b"\r", b"\n", b"-1", b"0", b"3", b"99", b"-", b" ", b"PING"]),
        st.binary(max_size=6),
    ),
    max_size=60,
).map(b"".join)


@given(st.one_of(st.binary(max_size=300), resp_ish), st.lists(st.integers(min_value=0), max_size=10))
@settings(max_examples=500)
@example(b"*1\r\n$-5\r\n", [])
@example(b"*\r\n", [])
@example(b"*1\r\nX", [])
def test_random_bytes_raise_only_protocol_errors(data, cuts):
    parser = Resp(SMALL)
    try:
        for piece in split(data, cuts):
            for request in parser.feed(piece):
                assert request and all(isinstance(arg, bytes) for arg in request)
    except ProtocolError as exc:
        assert all(isinstance(r, list) for r in exc.requests)


def outcome(pieces):
    """(every request parsed, the protocol error's message or None), fed `pieces`."""
    parser, parsed = Resp(SMALL), []
    try:
        for piece in pieces:
            parsed.extend(parser.feed(piece))
    except ProtocolError as exc:
        return parsed + list(exc.requests), str(exc)
    return parsed, None


@given(st.one_of(requests.map(lambda stream: b"".join(frame for _, frame in stream)), resp_ish, st.binary(max_size=100)))
@settings(max_examples=500)
@example(b"*2\r\n$4\r\nECHO\r\n$1\r\nx\r\n*1\r\n$99\r\n")
@example(b"*1\r\n$4\r\nPING\r\n*1\r\n:1\r\n")
@example(b"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\nPING\r\n")
@example(b"*9\r\n" + b"$1\r\nx\r\n" * 9)  # over SMALL.max_array
@example(b"*1\r\n$65\r\n" + b"x" * 65 + b"\r\n")  # over SMALL.max_bulk
@example(b"*1\r\n$+4\r\nPING\r\n*1\r\n$4\r\nPI\r\n\r\n")
@example(b"*" + b"0" * 30 + b"1\r\n$4\r\nPING\r\n")  # a header of HEADER_MAX (32) bytes
@example(b"*" + b"0" * 31 + b"1\r\n$4\r\nPING\r\n")  # 33: refused by both paths
@example(b"*1\r\n$" + b"0" * 31 + b"4\r\nPING\r\n")
@example(b"\x00" * 65 + b"\n")  # an inline line one byte over SMALL's 64: refused by both paths
@example(b"x" * 64 + b"\r\n")  # exactly 64 bytes and \r\n: accepted by both
def test_fast_path_agrees_with_the_incremental_parser(data):
    """Whole reads take the in-place fast path; byte-at-a-time ones the incremental
    parser. Both must give the same requests and the same error."""
    assert outcome([data]) == outcome([data[i : i + 1] for i in range(len(data))])


def peak_allocation(data, limits):
    """Bytes allocated at peak while a fresh parser is fed `data`; the ProtocolError.
    Only the parse is traced: the same error is raised once untraced first (what a first
    call costs once is not the request's), and the garbage collector neither runs nor
    finalizes earlier tests' objects inside the window. tracemalloc still counts every
    thread's allocations, and an earlier test's thread can allocate inside the window
    (the CI saw 134 KB and 260 KB there, never on the same input again), so the callers
    announce at least HUGE and allow a sixteenth of it: what a parser that reserved the
    announced size would exceed, and what no background noise seen comes near."""
    with pytest.raises(ProtocolError):
        Resp(limits).feed(data)
    parser = Resp(limits)

    def parse():
        try:
            parser.feed(data)
        except ProtocolError as exc:
            return exc

    peak, exc = traced_peak(parse)
    assert isinstance(exc, ProtocolError), "the parser accepted it"
    return peak, exc


def traced_peak(call):
    """The peak of bytes traced while `call` runs, with the collector off; its result."""
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        result = call()
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()
        gc.enable()


HUGE = 16 * 2**20  # announced bytes or elements; a reservation of them would show
ALLOWED = HUGE // 16


@given(st.integers(min_value=SMALL.max_bulk + 1, max_value=2**64), st.binary(max_size=32))
@settings(max_examples=100)
def test_oversized_bulk_is_refused(length, tail):
    with pytest.raises(ProtocolError, match="bulk length"):
        Resp(SMALL).feed(b"*1\r\n$%d\r\n" % length + tail)


@given(st.integers(min_value=SMALL.max_array + 1, max_value=2**64))
@settings(max_examples=100)
def test_oversized_array_is_refused(count):
    with pytest.raises(ProtocolError, match="multibulk length"):
        Resp(SMALL).feed(b"*%d\r\n$4\r\nPING\r\n" % count)


@given(st.integers(min_value=HUGE, max_value=2**64), st.binary(max_size=32))
@settings(max_examples=50)
@example(4 * 2**30, b"")
def test_oversized_bulk_fails_without_allocating_it(length, tail):
    peak, exc = peak_allocation(b"*1\r\n$%d\r\n" % length + tail, SMALL)
    assert "bulk length" in str(exc)
    assert peak < ALLOWED


@given(st.integers(min_value=HUGE, max_value=2**64))
@settings(max_examples=50)
@example(4 * 2**30)
def test_oversized_array_fails_without_allocating_it(count):
    peak, exc = peak_allocation(b"*%d\r\n$4\r\nPING\r\n" % count, SMALL)
    assert "multibulk length" in str(exc)
    assert peak < ALLOWED


@given(st.integers(min_value=SMALL.max_inline + 2, max_value=4 * SMALL.max_inline), st.binary(max_size=16))
@settings(max_examples=100)
def test_oversized_inline_fails(size, prefix):
    data = (b"X" + prefix.replace(b"\n", b"X") + b"Y" * size)[:size]
    with pytest.raises(ProtocolError, match="too big inline"):
        feed_pieces(Resp(SMALL), [data])


@given(st.integers(min_value=33, max_value=200), st.sampled_from([b"*", b"*1\r\n$"]))
@settings(max_examples=50)
def test_overlong_length_header_fails(digits, prefix):
    """A length line that never ends is refused once it outgrows any valid number."""
    with pytest.raises(ProtocolError, match="too big"):
        Resp(SMALL).feed(prefix + b"1" * digits)


@given(st.integers(min_value=1, max_value=SMALL.max_bulk), st.integers(min_value=0, max_value=4))
@settings(max_examples=50)
def test_announced_bulk_within_limit_waits_without_preallocating(length, have):
    """Up to the limit, the parser waits for the bytes rather than reserving them."""
    limits = Limits(max_bulk=4 * HUGE, max_array=8, max_inline=64)
    parser = Resp(limits)
    data = b"*1\r\n$%d\r\n" % (limits.max_bulk - length) + b"a" * have
    peak, parsed = traced_peak(lambda: parser.feed(data))
    assert parsed == []
    assert peak < ALLOWED
