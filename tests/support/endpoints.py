"""Loopback webhook endpoints for tests: a correct one per scheme and one per defect, each a real aiohttp
server on port 0 in a background thread with its own event loop (so an in-process CLI can run its own)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from aiohttp import web

from whatsable_cli.webhooks.events import parse_body
from whatsable_cli.webhooks.signing import verify

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
READY_TIMEOUT_S = 10


@dataclass
class Received:
    """What an endpoint saw: every request's exact body and headers, in order."""

    bodies: list[bytes] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Endpoint:
    url: str
    received: Received


def _verified(scheme: str, secret: str, received: Received, inner: Handler | None = None) -> Handler:
    """A correct endpoint: exact-bytes verification (401 on any forgery), duplicates and any order 2xx."""
    seen: set[str] = set()

    async def handler(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        _record(received, request, body)
        result = verify(scheme, secret, body, request.headers)
        if not result.ok:
            return web.json_response({"error": result.reason.value}, status=401)
        key = parse_body(body).dedupe_key or body.decode(errors="replace")
        duplicate = key in seen
        seen.add(key)
        if inner is not None:
            return await inner(request)
        return web.json_response({"ok": True, "duplicate": duplicate})

    return handler


def _record(received: Received, request: web.Request, body: bytes) -> None:
    received.bodies.append(body)
    received.headers.append(dict(request.headers))


def correct(scheme: str, secret: str, received: Received) -> Handler:
    return _verified(scheme, secret, received)


def no_verification(received: Received) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        _record(received, request, await request.read())
        return web.json_response({"ok": True})

    return handler


def always_500(received: Received) -> Handler:
    return status(500, received, text="Internal Server Error")


def status(code: int, received: Received, headers: dict[str, str] | None = None, text: str | None = None) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        _record(received, request, await request.read())
        return web.Response(status=code, headers=headers, text=text)

    return handler


def redirects(received: Received) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        _record(received, request, await request.read())
        raise web.HTTPPermanentRedirect("/webhooks/whatsable/")

    return handler


def rejects_duplicates(scheme: str, secret: str, received: Received) -> Handler:
    """Verifies correctly, but answers 409 to an event it has seen (WhatsAble would redeliver forever)."""
    seen: set[str] = set()

    async def handler(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        _record(received, request, body)
        if not verify(scheme, secret, body, request.headers).ok:
            return web.Response(status=401)
        key = parse_body(body).dedupe_key or ""
        if key in seen:
            return web.json_response({"error": "duplicate"}, status=409)
        seen.add(key)
        return web.json_response({"ok": True})

    return handler


def slower_than_timeout(scheme: str, secret: str, received: Received, release: asyncio.Event) -> Handler:
    """Rejects forgeries at once but never answers a valid event before the server shuts down."""

    async def stall(_: web.Request) -> web.StreamResponse:
        await release.wait()
        return web.Response(status=200)

    return _verified(scheme, secret, received, stall)


@contextmanager
def serve(make: Callable[[Received, asyncio.Event], Handler]) -> Iterator[Endpoint]:
    """Run an endpoint in its own thread and loop; yield its URL; shut it down (releasing stalls)."""
    received = Received()
    ready = threading.Event()
    state: dict[str, object] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        release = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", make(received, release))

        async def on_shutdown(_: web.Application) -> None:
            release.set()  # stalled handlers return, so shutdown never waits on them

        app.on_shutdown.append(on_shutdown)
        runner = web.AppRunner(app, shutdown_timeout=1.0)
        try:
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", 0).start())
            state.update(loop=loop, port=runner.addresses[0][1])
        except Exception as exc:  # reported by the test thread instead of a silent 10 s wait
            state["error"] = exc
            return
        finally:
            ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=run, name="test-endpoint", daemon=True)
    thread.start()
    assert ready.wait(READY_TIMEOUT_S), "endpoint did not start"
    assert "error" not in state, f"endpoint failed to start: {state.get('error')!r}"
    loop = state["loop"]
    assert isinstance(loop, asyncio.AbstractEventLoop)
    try:
        yield Endpoint(f"http://127.0.0.1:{state['port']}/webhooks/whatsable", received)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(READY_TIMEOUT_S)


def closed_port_url() -> str:
    """A loopback URL with no listener: a port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/webhooks/whatsable"
