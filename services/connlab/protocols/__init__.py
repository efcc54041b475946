"""The protocols the server speaks (the PROTOCOL setting): one module each, and in it
one class that owns all that is the protocol's: its parser (bytes in, requests out),
how a command's result is written (render), its error and refusal replies, its health
probe and its limits. A module is found here by its `PROTOCOL` attribute, so adding a
protocol is adding a module.

A protocol class has:
    name                   its PROTOCOL value
    Limits                 a namedtuple of ints with defaults; each field is read from the
                           setting of its name in capitals (max_bulk: MAX_BULK) and shown in
                           INFO (a namedtuple, not a dataclass: see find)
    PROBE                  (request, start of the expected reply): the health check's exchange
    REFUSAL                the bytes sent to a connection refused at MAX_CONNECTIONS
    __init__(limits)       one per connection: it holds that connection's parser state
    feed(data)             the requests (lists of bytes arguments) that `data` completes;
                           raises ProtocolError, with those before the error in its requests
    render(result, request)  the reply to `request` (one of feed's) whose command returned
                           `result` (commands.py): bytes, or Closing(bytes) when the connection
                           closes after it; a static method, which the executors take once
    error(exc)             the reply to the ProtocolError `exc`, after which the server closes
    patience(limits)       seconds a request may take to arrive (0: no limit); a static method
    stalled(now)           the reply to send before closing, if the request arriving has taken
                           longer than that at time.monotonic() `now`; else None
    owed()                 an interim reply owed now, after the replies to the requests before
                           it (HTTP's 100 Continue), else None; asked after each feed, and
                           owed once
"""

import importlib
import os


class ProtocolError(Exception):
    """Malformed input. The server sends the protocol's error reply and closes."""

    requests = ()  # requests complete before the error, set by feed


def find():
    """{name: class} of the protocol modules in this package, the default (resp) first."""
    found = {}
    # Listed, not pkgutil.iter_modules: the health check (every 2 s, on the server's CPUs)
    # imports this package, and pkgutil's imports, or dataclasses', would each add half
    # again to what that costs.
    files = sorted(name for path in __path__ for name in os.listdir(path) if name.endswith(".py"))
    for file in files:
        if file.startswith("_"):
            continue
        protocol = getattr(importlib.import_module(f"{__name__}.{file[:-3]}"), "PROTOCOL", None)
        if protocol is not None:
            found[protocol.name] = protocol
    return {"resp": found.pop("resp"), **found}


PROTOCOLS = find()
