"""The protocols the load generator speaks (--protocol, as the server's PROTOCOL): one
codec module each, found here by name, so users, mixes and the client never ask which.

A codec module has:
    NAME                 its --protocol value
    METHOD               the request type Locust's tables show (RESP, HTTP)
    encode(*args)        a command (PING; ECHO payload; SLEEP ms; ...) as request bytes
    request(args, host, close)
                         the same, to `host`, and when `close`, as the connection's last
                         request (what the protocol says of either, if anything)
    Decoder              feed(data); gets(): the next complete reply, or False;
                         decode(data): every reply `data` completes
    ReplyError           a decoded reply that is the server's refusal (a failure)
    ProtocolError        what the Decoder raises on bytes that are no reply
"""

from . import http, resp

CODECS = {codec.NAME: codec for codec in (resp, http)}
NAMES = tuple(CODECS)  # resp, the default, first


def codec(name):
    """The codec module of protocol `name`."""
    try:
        return CODECS[name]
    except KeyError:
        raise ValueError(f"unknown protocol {name!r} (known: {', '.join(NAMES)})") from None
