"""RESP2, the client's side: requests encoded, replies decoded. The load generator, the
tests, fuzz, soak and the benchmarks all speak RESP through this module (the server has
its own, in services/). What a codec module has: protocols.py.
"""

import hiredis

NAME = "resp"
METHOD = "RESP"  # the request type in Locust's tables

# What a reply can be besides bytes, int, None and lists; hiredis raises ProtocolError
# on bytes that are no reply at all.
ReplyError = hiredis.ReplyError
ProtocolError = hiredis.ProtocolError


def bulk(data):
    """One bulk string: a request's argument, or the server's reply to ECHO."""
    return b"$%d\r\n%s\r\n" % (len(data), data)


def encode(*args):
    """One command as a RESP array of bulk strings (what redis-cli and redis-py send);
    arguments other than bytes are sent as their text."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        parts.append(bulk(arg if isinstance(arg, (bytes, bytearray)) else str(arg).encode()))
    return b"".join(parts)


class Decoder(hiredis.Reader):
    """Replies from a byte stream, parsed by hiredis: a simple string or a bulk string
    is bytes, an error a ReplyError, an integer an int, a null None, an array a list.
    A subclass, not a wrapper: the load generator calls feed() and gets() per reply."""

    def decode(self, data=b""):
        """Every reply complete once `data` is added; a partial one waits for more."""
        self.feed(data)
        replies = []
        while (reply := self.gets()) is not False:
            replies.append(reply)
        return replies


def request(args, host=None, close=False):
    """`args` as this protocol's request bytes. RESP names no host, and has no way to
    announce a connection's last request: the client just closes after its reply."""
    return encode(*args)
