"""The Python floor for `make bench-server`: a bare asyncio server that answers every
`PING` in what it reads with `+PONG`, without parsing RESP and without accounting.
(redis-benchmark first sends two `CONFIG GET`s and waits for their replies: each gets
an empty array.)"""

import asyncio
import os

PING, PONG = b"PING\r\n", b"+PONG\r\n"
CONFIG, NONE = b"CONFIG\r\n", b"*0\r\n"


class Ping(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.tail = transport, b""

    def data_received(self, data):
        data = self.tail + data
        if CONFIG in data:
            self.transport.write(NONE * data.count(CONFIG))
        count = data.count(PING)
        if count:
            self.transport.write(PONG * count)
            data = data[data.rfind(PING) + len(PING) :]
        self.tail = data[-len(PING) :]


async def main():
    server = await asyncio.get_running_loop().create_server(Ping, "0.0.0.0", int(os.environ.get("PORT", "7000")))
    await server.serve_forever()


asyncio.run(main())
