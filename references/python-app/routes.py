"""connlab's HTTP routes (docs/protocol.md), shared by the Python reference servers'
apps: asgi.py (uvicorn) and wsgi.py (gunicorn, granian). What differs between them is
only how they wait (/sleep) and read a body (/echo)."""

import os
import platform
import time
from http import HTTPStatus
from urllib.parse import parse_qs

METHODS = {"/ping": "GET", "/echo": "POST", "/sleep": "GET", "/work": "GET", "/info": "GET"}
ARGUMENTS = {"/sleep": "ms", "/work": "us"}  # the route's one query argument
TEXT = ("Content-Type", "text/plain")
INFO = f"server:{os.environ.get('SERVER', 'python')}\r\nprotocol:http\r\npython:{platform.python_version()}\r\n".encode()


def check(method, path, query):
    """(None, argument) for a request the app serves (argument: /sleep's ms, /work's us,
    else None), or (error reply, None): 404, 405 with Allow, 400 with what is wrong."""
    if path not in METHODS:
        return (404, b"not found", []), None
    if method != METHODS[path]:
        return (405, b"method not allowed", [("Allow", METHODS[path])]), None
    if path not in ARGUMENTS:
        return None, None
    name = ARGUMENTS[path]
    values = parse_qs(query).get(name)
    if not values or not values[0].isdigit():
        return (400, f"{name} must be a non-negative integer, got {values[0] if values else 'none'}".encode(), []), None
    return None, int(values[0])


def burn_cpu(microseconds):
    """Spin on this thread until it has used `microseconds` of its own CPU time (as
    connlab's WORK: the blocked worker)."""
    deadline = time.thread_time_ns() + microseconds * 1000
    while time.thread_time_ns() < deadline:
        pass


def status_line(status):
    return f"{status} {HTTPStatus(status).phrase}"
