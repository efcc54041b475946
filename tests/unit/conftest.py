"""Fixtures of the unit tests."""

import importlib
import sys

import pytest
from connlab import protocols

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
    def render(result, request=None):
        if type(result) is Closing:
            return Closing(Lines.render(result.reply))
        return (result if type(result) is bytes else str(result).encode()) + b"\\n"

    @staticmethod
    def error(exc):
        return b"error: %s\\n" % str(exc).encode()

    @staticmethod
    def patience(limits):
        return 0

    def stalled(self, now):
        return None

    def owed(self):
        return None


PROTOCOL = Lines
'''


@pytest.fixture
def lines_protocol(tmp_path, monkeypatch):
    """The server with one protocol module more, `lines`, as adding one is done: a file
    in services/connlab/protocols/ (here on the package's path for the test's time)."""
    folder = tmp_path / "protocols"
    folder.mkdir()
    (folder / "lines.py").write_text(LINES)
    importlib.invalidate_caches()
    monkeypatch.setattr(protocols, "__path__", [*protocols.__path__, str(folder)])
    monkeypatch.setattr(protocols, "PROTOCOLS", protocols.find())
    yield protocols.PROTOCOLS["lines"]
    sys.modules.pop("connlab.protocols.lines", None)
