"""Which CPython serves: its version and whether the GIL is on.

A free-threaded build (3.13t, 3.14t) serves only with the GIL off: an extension module built
without free-threading support, or PYTHON_GIL=1, turns it back on at run time, and
then every figure would be the GIL build's under the free-threaded build's name.
"""

import platform
import sys
import sysconfig


def free_threaded_build():
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def gil():
    """"enabled" or "disabled", as INFO and the info metric say it."""
    is_enabled = getattr(sys, "_is_gil_enabled", lambda: True)
    return "enabled" if is_enabled() else "disabled"


def version():
    return platform.python_version() + ("t" if free_threaded_build() else "")


def refuse_a_gil_in_a_free_threaded_build():
    """Exit with the reason if this free-threaded build runs with the GIL on. Called
    once every module the server uses is imported (an import can turn the GIL on)."""
    if free_threaded_build() and gil() == "enabled":
        sys.exit(
            f"connlab: this is a free-threaded Python ({version()}) but the GIL is enabled: PYTHON_GIL=1 is set, "
            "or an extension module without free-threading support turned it on when imported "
            "(Python's RuntimeWarning above names it). Refusing to serve: the figures would be the "
            "GIL build's. Unset PYTHON_GIL, or use a free-threaded build of that module."
        )
