"""Which CPython serves, and the refusal to serve a free-threaded build with the GIL on."""

import sys

import pytest

from connlab import interpreter


def test_this_interpreter_reports_its_gil():
    expected = "enabled" if getattr(sys, "_is_gil_enabled", lambda: True)() else "disabled"
    assert interpreter.gil() == expected
    assert interpreter.version().startswith(f"{sys.version_info.major}.{sys.version_info.minor}.")
    assert interpreter.version().endswith("t") == interpreter.free_threaded_build()


def test_a_free_threaded_build_with_the_gil_on_refuses_to_serve(monkeypatch):
    monkeypatch.setattr(interpreter, "free_threaded_build", lambda: True)
    monkeypatch.setattr(interpreter, "gil", lambda: "enabled")
    with pytest.raises(SystemExit, match="GIL is enabled.*Refusing to serve"):
        interpreter.refuse_a_gil_in_a_free_threaded_build()


@pytest.mark.parametrize("free_threaded, gil", [(False, "enabled"), (True, "disabled")])
def test_other_combinations_serve(monkeypatch, free_threaded, gil):
    monkeypatch.setattr(interpreter, "free_threaded_build", lambda: free_threaded)
    monkeypatch.setattr(interpreter, "gil", lambda: gil)
    interpreter.refuse_a_gil_in_a_free_threaded_build()  # returns
