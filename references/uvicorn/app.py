"""connlab's HTTP routes as a bare ASGI app, for uvicorn (with httptools) to serve: the
Python anchor of the HTTP benchmarks, what a common Python HTTP server costs per request.
SLEEP waits without blocking (asyncio.sleep), WORK holds the event loop (its thread's CPU).
"""

import asyncio
import platform
import time
from urllib.parse import parse_qs

TEXT = [(b"content-type", b"text/plain")]


def _number(query, name):
    """The non-negative integer `name` of a query string; ValueError says what is wrong."""
    values = parse_qs(query.decode("latin-1")).get(name)
    if not values or not values[0].isdigit():
        raise ValueError(f"{name} must be a non-negative integer, got {values[0] if values else 'none'}")
    return int(values[0])


async def _body(receive):
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def _burn_cpu(microseconds):
    deadline = time.thread_time_ns() + microseconds * 1000
    while time.thread_time_ns() < deadline:
        pass


INFO = f"server:uvicorn\r\nprotocol:http\r\npython:{platform.python_version()}\r\n".encode()
METHODS = {"/ping": "GET", "/echo": "POST", "/sleep": "GET", "/work": "GET", "/info": "GET"}


async def _reply(scope, receive):
    """(status, body, extra headers) of one request."""
    path, method = scope["path"], scope["method"]
    if path not in METHODS:
        return 404, b"not found", []
    if method != METHODS[path]:
        return 405, b"method not allowed", [(b"allow", METHODS[path].encode())]
    try:
        if path == "/ping":
            return 200, b"PONG", []
        if path == "/echo":
            return 200, await _body(receive), []
        if path == "/sleep":
            await asyncio.sleep(_number(scope["query_string"], "ms") / 1000)
        elif path == "/work":
            _burn_cpu(_number(scope["query_string"], "us"))
        else:
            return 200, INFO, []
    except ValueError as exc:
        return 400, str(exc).encode(), []
    return 200, b"OK", []


async def app(scope, receive, send):
    if scope["type"] != "http":  # lifespan: nothing to start or stop
        return
    status, body, headers = await _reply(scope, receive)
    length = [(b"content-length", str(len(body)).encode())]  # not chunked: the designs' replies are not
    await send({"type": "http.response.start", "status": status, "headers": TEXT + length + headers})
    await send({"type": "http.response.body", "body": body})
