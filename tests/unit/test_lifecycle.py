"""A connection's states, as tables: what each epoll event means in each state, what
each state waits for, and where a connection stands after its I/O. No sockets."""

import select

import pytest

from connlab.lifecycle import Action, State, interest, react, settle

IN, OUT, RDHUP, HUP, ERR = select.EPOLLIN, select.EPOLLOUT, select.EPOLLRDHUP, select.EPOLLHUP, select.EPOLLERR
R, P, W, D, L, C = State.READING, State.PAUSED, State.WRITING, State.DRAINING, State.LINGERING, State.CLOSED
READ, WRITE, CLOSE, NOTHING = Action.READ, Action.WRITE, Action.CLOSE, Action.NOTHING

# state: (interest, action on IN, OUT, RDHUP, IN|RDHUP, HUP, ERR)
TABLE = {
    R: (IN | RDHUP, READ, NOTHING, READ, READ, READ, READ),  # recv() sees data, then EOF
    P: (RDHUP, NOTHING, NOTHING, CLOSE, CLOSE, CLOSE, CLOSE),
    W: (OUT | RDHUP, NOTHING, WRITE, CLOSE, CLOSE, CLOSE, CLOSE),
    D: (RDHUP, NOTHING, NOTHING, CLOSE, CLOSE, CLOSE, CLOSE),
    L: (IN | RDHUP, READ, NOTHING, READ, READ, READ, READ),  # discards until EOF
    C: (0, NOTHING, NOTHING, NOTHING, NOTHING, NOTHING, NOTHING),
}
EVENTS = (IN, OUT, RDHUP, IN | RDHUP, HUP, ERR)


def test_the_table_covers_every_state():
    assert set(TABLE) == set(State)


@pytest.mark.parametrize("state", list(State), ids=lambda s: s.value)
def test_interest(state):
    assert interest(state) == TABLE[state][0]


@pytest.mark.parametrize("state", list(State), ids=lambda s: s.value)
@pytest.mark.parametrize("column", range(len(EVENTS)), ids=["IN", "OUT", "RDHUP", "IN|RDHUP", "HUP", "ERR"])
def test_react(state, column):
    assert react(state, EVENTS[column]) is TABLE[state][1 + column]


@pytest.mark.parametrize("state", list(State), ids=lambda s: s.value)
def test_a_departed_client_is_noticed_in_every_open_state(state):
    """The peer's FIN (EPOLLRDHUP) is watched wherever a connection is open, so a
    client that leaves is let go at once, whatever the server is waiting for."""
    if state is not C:
        assert interest(state) & RDHUP
        assert react(state, RDHUP) in (READ, CLOSE)


def facts(unsent=False, in_flight=0, closing=False, reading_over=False, draining=False, max_pending=2):
    return dict(unsent=unsent, in_flight=in_flight, closing=closing, reading_over=reading_over,
                draining=draining, max_pending=max_pending)


@pytest.mark.parametrize(
    "state, given, expected",
    [
        (R, facts(), R),
        (R, facts(in_flight=1), R),
        (R, facts(in_flight=2), P),  # MAX_PENDING reached: stop reading
        (P, facts(in_flight=1), R),  # one answered: read again
        (R, facts(unsent=True), W),
        (W, facts(unsent=True, in_flight=2), W),  # output first, whatever else
        (W, facts(), R),
        (W, facts(in_flight=2), P),
        (R, facts(reading_over=True, in_flight=1), D),  # protocol error behind pooled requests
        (D, facts(reading_over=True, unsent=True), W),
        (W, facts(reading_over=True, in_flight=1), D),  # written, more in flight
        (D, facts(reading_over=True, closing=True), C),  # the error reply sent
        (W, facts(closing=True, in_flight=3), C),  # QUIT answered: what follows is dropped
        (R, facts(reading_over=True, draining=True), L),  # server draining, all answered
        (D, facts(reading_over=True, closing=True, draining=True), L),
        (L, facts(reading_over=True, draining=True), L),  # only EOF or the deadline end it
        (C, facts(unsent=True), C),
    ],
)
def test_settle(state, given, expected):
    assert settle(state, **given) is expected
