"""uvicorn with httptools serving asgi.py: WORKERS processes (one unless set), each an
asyncio event loop on the one listening socket the supervisor bound and passed on; no
access log, no Server header. Its httptools protocol, subclassed only to count each
process's open connections (counts.py), parses as uvicorn's own does."""

import os

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

import counts


class CountedHttpTools(HttpToolsProtocol):
    def connection_made(self, transport):
        counts.process()[counts.ACTIVE] += 1
        super().connection_made(transport)

    def connection_lost(self, exc):
        counts.process()[counts.ACTIVE] -= 1
        super().connection_lost(exc)


if __name__ == "__main__":  # the workers are spawned: they import this module, not run it
    uvicorn.run(
        "asgi:app", host="0.0.0.0", port=8000, workers=int(os.environ.get("WORKERS", "1")),
        loop="asyncio", http=CountedHttpTools, access_log=False, server_header=False, log_level="warning",
        backlog=4096, timeout_keep_alive=3600,  # the lab's idle keep-alive connections stay open, as connlab's do
    )  # fmt: skip
