"""The baseline server: a bare aiohttp handler that reads the body and answers 200.

python benchmarks/bare_server.py   -> prints "listening on http://127.0.0.1:PORT" then serves
"""

from __future__ import annotations

import asyncio
import socket
import sys

from aiohttp import web


async def handle(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(text="ok")


async def main() -> None:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock)
    await site.start()
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
