"""Outbound delivery over aiohttp against real loopback servers: bytes, headers, redirects, failures."""

from __future__ import annotations

import asyncio
import socket
from typing import Any
from unittest import mock

import aiohttp
from aiohttp import web

from whatsable_cli.delivery import Deliverer, read_capped

BODY = b'{"event":"message_status","data":{"status":"read"}}'


async def test_delivers_exact_bytes_and_end_to_end_headers(aiohttp_server: Any) -> None:
    seen: dict[str, Any] = {}

    async def handler(request: web.Request) -> web.Response:
        seen["body"] = await request.read()
        seen["headers"] = dict(request.headers)
        return web.json_response({"ok": True}, status=202)

    app = web.Application()
    app.router.add_post("/hook", handler)
    server = await aiohttp_server(app)
    headers = [("X-Webhook-Signature", "abc"), ("Connection", "close"), ("Host", "elsewhere"), ("Content-Length", "1")]
    async with Deliverer(timeout=5) as deliverer:
        delivery = await deliverer.deliver(str(server.make_url("/hook")), BODY, headers)
    assert seen["body"] == BODY
    assert seen["headers"]["X-Webhook-Signature"] == "abc"
    assert seen["headers"]["Host"] == f"127.0.0.1:{server.port}"
    assert delivery.result.status == 202 and delivery.result.ok
    assert delivery.body == b'{"ok": true}'
    assert delivery.result.latency_ms is not None and delivery.result.latency_ms >= 0


async def test_redirect_is_not_followed(aiohttp_server: Any) -> None:
    followed = asyncio.Event()

    async def redirect(_: web.Request) -> web.Response:
        raise web.HTTPFound("/elsewhere")

    async def elsewhere(_: web.Request) -> web.Response:
        followed.set()
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", redirect)
    app.router.add_route("*", "/elsewhere", elsewhere)
    server = await aiohttp_server(app)
    async with Deliverer() as deliverer:
        delivery = await deliverer.deliver(str(server.make_url("/hook")), BODY, [])
    assert delivery.result.status == 302
    assert not delivery.result.ok
    assert not followed.is_set()


async def test_refused_connection_is_unreachable() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with Deliverer(timeout=2) as deliverer:
        delivery = await deliverer.deliver(f"http://127.0.0.1:{port}/hook", BODY, [])
    assert delivery.result.status is None
    assert delivery.result.error_code == "unreachable"


async def test_slow_target_times_out(aiohttp_server: Any) -> None:
    never = asyncio.Event()

    async def stall(_: web.Request) -> web.Response:
        await never.wait()
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", stall)
    server = await aiohttp_server(app)
    async with Deliverer(timeout=0.2) as deliverer:
        delivery = await deliverer.deliver(str(server.make_url("/hook")), BODY, [])
    assert delivery.result.error_code == "timeout"


async def test_answer_arriving_in_chunks_is_read_whole() -> None:
    loop = asyncio.get_running_loop()
    stream = aiohttp.StreamReader(mock.Mock(_reading_paused=False), 2**16, loop=loop)
    stream.feed_data(b"first;")

    def rest_arrives() -> None:  # the second chunk lands only after the first read has returned
        stream.feed_data(b"second")
        stream.feed_eof()

    loop.call_soon(rest_arrives)
    assert await read_capped(stream, 1 << 20) == b"first;second"


async def test_answer_is_capped() -> None:
    stream = aiohttp.StreamReader(mock.Mock(_reading_paused=False), 2**16, loop=asyncio.get_running_loop())
    stream.feed_data(b"x" * 100)
    stream.feed_eof()
    assert await read_capped(stream, 10) == b"x" * 10
