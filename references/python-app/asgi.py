"""connlab's HTTP routes as a bare ASGI app, for uvicorn: /sleep waits on the event loop
(asyncio.sleep), /work holds it (the loop's thread burns the CPU). Each request counts
on its process's counters (counts.py) before its reply goes out."""

import asyncio

import counts
import routes

TEXT = [(b"content-type", b"text/plain")]


async def _body(receive):
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _reply(scope, receive):
    path = scope["path"]
    error, argument = routes.check(scope["method"], path, scope["query_string"].decode("latin-1"))
    if error:
        return error
    if path == "/ping":
        return 200, b"PONG", []
    if path == "/echo":
        return 200, await _body(receive), []
    if path == "/sleep":
        await asyncio.sleep(argument / 1000)
    elif path == "/work":
        routes.burn_cpu(argument)
    else:
        return 200, routes.INFO, []
    return 200, b"OK", []


async def _lifespan(receive, send):
    """A worker's start: its counters made at once, so an idle worker is listed too."""
    counts.process()
    while (await receive())["type"] != "lifespan.shutdown":
        await send({"type": "lifespan.startup.complete"})
    await send({"type": "lifespan.shutdown.complete"})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    status, body, headers = await _reply(scope, receive)
    counts.process()[counts.REQUESTS] += 1
    head = TEXT + [(b"content-length", str(len(body)).encode())] + [(k.encode(), v.encode()) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})
