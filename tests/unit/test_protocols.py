"""Adding a protocol is adding one module to services/connlab/protocols/: the settings,
the connection and the commands take it from there."""

import importlib
import socket
import sys

from connlab import commands, protocols
from connlab.config import Settings
from connlab.connection import Connection
from connlab.executor import Inline
from connlab.metrics import Metrics
from connlab.tally import Board

# A test-only protocol: one request a line, its words the arguments; one reply a line.
LINES = '''
from collections import namedtuple

from connlab.commands import Closing
from connlab.protocols import ProtocolError

Limits = namedtuple("Limits", "max_line", defaults=(80,))


class Lines:
    name = "lines"
    Limits = Limits
    PROBE = b"PING\\n", b"PONG\\n"
    REFUSAL = b"busy\\n"

    def __init__(self, limits=Limits()):
        self.limits, self.rest = limits, b""

    def feed(self, data):
        *lines, self.rest = (self.rest + data).split(b"\\n")
        requests = [line.split() for line in lines if line]
        if len(self.rest) > self.limits.max_line:
            error = ProtocolError(f"line over {self.limits.max_line} bytes")
            error.requests = requests  # they are answered before the error
            raise error
        return requests

    @staticmethod
    def render(result):
        if type(result) is Closing:
            return Closing(Lines.render(result.reply))
        return (result if type(result) is bytes else str(result).encode()) + b"\\n"

    @staticmethod
    def error(exc):
        return b"error: %s\\n" % str(exc).encode()


PROTOCOL = Lines
'''


def test_a_protocol_module_is_all_it_takes(tmp_path, monkeypatch):
    (tmp_path / "lines.py").write_text(LINES)
    importlib.invalidate_caches()
    monkeypatch.setattr(protocols, "__path__", [*protocols.__path__, str(tmp_path)])
    try:
        monkeypatch.setattr(protocols, "PROTOCOLS", protocols.find())
        assert list(protocols.PROTOCOLS) == ["resp", "lines"]  # the default stays first
        settings = Settings.from_env({"PROTOCOL": "lines", "MAX_LINE": "8"})
    finally:
        sys.modules.pop("connlab.protocols.lines", None)
    assert settings.describe()["protocol"] == "lines" and settings.fields()["max_line"] == "8"

    left, right = socket.socketpair()
    with left, right:
        counts = Metrics("lab", Board(4, commands.METRIC_LABELS)).tally("0")
        conn, execute = Connection(left, counts, settings), Inline(counts, settings)
        conn.process(b"ECHO hi\nPING\nQUIT\n", execute)
        assert conn.out == b"hi\nPONG\nOK\n" and conn.closing
        conn = Connection(left, counts, settings)
        conn.process(b"PING\n" + b"x" * 9, execute)
        assert conn.out == b"PONG\nerror: line over 8 bytes\n" and conn.closing
