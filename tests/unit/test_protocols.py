"""Adding a protocol is adding one module to services/connlab/protocols/: the settings,
the connection and the commands take it from there."""

import socket

from connlab import commands, protocols
from connlab.config import Settings
from connlab.connection import Connection
from connlab.executor import Inline
from connlab.metrics import Metrics
from connlab.tally import Board


def test_a_protocol_module_is_all_it_takes(lines_protocol):
    assert list(protocols.PROTOCOLS) == ["resp", "http", "lines"]  # the default stays first
    settings = Settings.from_env({"PROTOCOL": "lines", "MAX_LINE": "8"})
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
