"""A connection's life as one value, and every transition in one place (memcached's
`conn_states`). Pure functions, no sockets: the event loop asks `react` what an epoll
event means in the connection's state, does it, then asks `settle` where the
connection now stands; `interest` says what to wait for there.

    READING ──requests in flight ≥ MAX_PENDING──> PAUSED ──answered──> READING
       │  └──replies the client has not taken──> WRITING ──taken──> (settle again)
       └──protocol error, or the server drains──> DRAINING ──answered──> CLOSED
                                  (the server draining: LINGERING ──client's EOF──> CLOSED)

A client that leaves (EOF, EPOLLRDHUP, a reset) is let go in every state at once, as
Redis frees a client when it reads its EOF: nobody is left to answer.
"""

import enum
import select

IN, OUT = select.EPOLLIN, select.EPOLLOUT
PEER_CLOSED = select.EPOLLRDHUP  # the client sent FIN: watched in every state
GONE = select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR  # HUP and ERR are always reported


class State(enum.Enum):
    READING = "reading"  # waiting for requests
    PAUSED = "paused"  # MAX_PENDING requests in flight: read again once they are answered
    WRITING = "writing"  # replies wait for the client to take them
    DRAINING = "draining"  # reading is over (protocol error, server stopping): answer what was read
    LINGERING = "lingering"  # server stopping, all answered: FIN sent, input discarded until EOF
    CLOSED = "closed"


class Action(enum.Enum):
    READ = "read"  # recv(): requests, or EOF (then close)
    WRITE = "write"  # send what is ready
    CLOSE = "close"  # the client is gone
    NOTHING = "nothing"


_INTEREST = {
    State.READING: IN | PEER_CLOSED,
    State.PAUSED: PEER_CLOSED,
    State.WRITING: OUT | PEER_CLOSED,
    State.DRAINING: PEER_CLOSED,
    State.LINGERING: IN | PEER_CLOSED,
    State.CLOSED: 0,
}
_READS = (State.READING, State.LINGERING)  # recv() sees the EOF itself, after any data


def interest(state):
    """The epoll events a connection in `state` waits for."""
    return _INTEREST[state]


def react(state, events):
    """What the event loop does with epoll `events` on a connection in `state`."""
    if state in _READS:
        return Action.READ if events & (IN | GONE) else Action.NOTHING
    if state is State.CLOSED:
        return Action.NOTHING
    if events & GONE:
        return Action.CLOSE  # paused, writing or draining: nothing read is worth more
    return Action.WRITE if state is State.WRITING and events & OUT else Action.NOTHING


def settle(state, *, unsent, in_flight, closing, reading_over, draining, max_pending):
    """Where a connection stands once its I/O is done: `unsent` bytes wait for the
    client; `in_flight` requests wait for workers; `closing`: its last reply (QUIT, a
    protocol error) is written; `reading_over`: nothing more is read; `draining`: the
    server is stopping."""
    if state is State.LINGERING or state is State.CLOSED:
        return state  # only EOF or the drain deadline ends these
    if unsent:
        return State.WRITING
    if closing or (reading_over and not in_flight):
        return State.LINGERING if draining else State.CLOSED
    if reading_over:
        return State.DRAINING
    if in_flight >= max_pending:
        return State.PAUSED
    return State.READING
