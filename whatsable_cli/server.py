"""The aiohttp listener app: turns HTTP requests into `Incoming` values for a handler, and its `Reply` back."""

from __future__ import annotations

import errno
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from whatsable_cli.errors import BadInputError
from whatsable_cli.listen_model import DEFAULT_MAX_BODY, HEALTH_PATH
from whatsable_cli.tunnel_health import SELF_TEST_HEADER

JSON_TYPE = "application/json"


@dataclass(slots=True)
class Incoming:
    """One received request, as the listen service sees it (no aiohttp types)."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # case-insensitive lookups (a multidict)
    header_pairs: list[tuple[str, str]]  # as received: order and duplicates kept
    body: bytes
    body_size: int
    body_omitted: bool  # over --max-body: not read, recorded without it
    remote: str | None
    scheme: str
    on_webhook_path: bool


@dataclass(slots=True)
class Reply:
    """What the sender is answered."""

    status: int
    body: bytes = b""
    content_type: str | None = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)


class ListenerHandler(Protocol):
    """What the app needs from the service behind it."""

    async def handle(self, incoming: Incoming) -> Reply: ...

    def lifespan(self) -> AbstractAsyncContextManager[None]: ...

    def health(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ServerSettings:
    path: str = "/webhook"
    max_body: int = DEFAULT_MAX_BODY


HANDLER_KEY = web.AppKey("handler", ListenerHandler)
SETTINGS_KEY = web.AppKey("settings", ServerSettings)


def json_reply(status: int, payload: dict[str, Any]) -> Reply:
    return Reply(status, json.dumps(payload).encode())


async def _read_body(request: web.Request, max_body: int) -> tuple[bytes, int, bool]:
    """(body, size, omitted): an oversized body is never read into memory."""
    declared = request.content_length
    if declared is not None and declared > max_body:
        return b"", declared, True
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:  # chunked, no declared length: found out while reading
        return b"", declared or max_body + 1, True
    return body, len(body), False


async def _receive(request: web.Request) -> web.StreamResponse:
    """Every request except the health check and GET/HEAD on the webhook path goes to the handler."""
    settings = request.app[SETTINGS_KEY]
    body, size, omitted = await _read_body(request, settings.max_body)
    incoming = Incoming(
        method=request.method,
        path=request.path,
        query=request.query_string,
        headers=request.headers,
        header_pairs=list(request.headers.items()),
        body=body,
        body_size=size,
        body_omitted=omitted,
        remote=request.remote,
        scheme=request.scheme,
        on_webhook_path=request.path == settings.path,
    )
    try:
        reply = await request.app[HANDLER_KEY].handle(incoming)
    except Exception:  # the service answers its own failures; this is the last line of defence, not a 500
        reply = json_reply(503, {"error": "listener_error", "detail": "try again"})
        reply.headers["Retry-After"] = "1"
    response = web.Response(status=reply.status, body=reply.body, content_type=None, headers=reply.headers)
    if reply.content_type:
        response.headers["Content-Type"] = reply.content_type
    if omitted:
        response.force_close()  # the unread body is still on the connection
    return response


async def _probe(request: web.Request) -> web.Response:
    """GET/HEAD on the webhook path: some senders check the URL before saving it (Meta echoes a challenge)."""
    challenge = request.query.get("hub.challenge")
    if challenge is not None:
        return web.Response(text=challenge)
    # The tunnel's self-test: echo its nonce to prove the request reached this listener.
    nonce = request.headers.get(SELF_TEST_HEADER)
    headers = {SELF_TEST_HEADER: nonce} if nonce else None
    return web.json_response({"ok": True, "webhook": True}, headers=headers)


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, **request.app[HANDLER_KEY].health()})


async def _handler_lifespan(app: web.Application) -> AsyncIterator[None]:
    async with app[HANDLER_KEY].lifespan():
        yield


def create_app(handler: ListenerHandler, settings: ServerSettings) -> web.Application:
    """The listener app: the webhook path, a health route, and a catch-all that records strays."""
    # aiohttp raises past client_max_size while reading; _read_body turns that into our recorded 413.
    app = web.Application(client_max_size=settings.max_body)
    app[HANDLER_KEY] = handler
    app[SETTINGS_KEY] = settings
    app.router.add_get(HEALTH_PATH, _health)
    app.router.add_post(settings.path, _receive)
    app.router.add_get(settings.path, _probe)  # HEAD too (allow_head)
    app.router.add_route("*", "/{tail:.*}", _receive)
    app.cleanup_ctx.append(_handler_lifespan)
    return app


def _bind_error(exc: OSError, host: str, port: int) -> BadInputError:
    if exc.errno == errno.EADDRINUSE:
        return BadInputError(
            f"port {port} on {host} is already in use",
            hint="pick another --port, or --port 0 for a free one",
            code="port_in_use",
        )
    if exc.errno == errno.EACCES:
        return BadInputError(
            f"not allowed to listen on {host}:{port}",
            hint="ports below 1024 need privileges: use a higher --port, or --port 0",
            code="port_forbidden",
        )
    return BadInputError(
        f"cannot listen on {host}:{port}: {exc.strerror or exc}",
        hint="check --host (e.g. 127.0.0.1 or 0.0.0.0) and --port",
        code="cannot_listen",
    )


async def start_server(
    app: web.Application, host: str, port: int, *, shutdown_timeout: float = 5.0
) -> tuple[web.AppRunner, int]:
    """Start serving; returns the runner (cleanup() stops it gracefully) and the port actually bound."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:  # includes socket.gaierror for an unknown --host
        await runner.cleanup()
        raise _bind_error(exc, host, port) from None
    bound = runner.addresses[0][1] if runner.addresses else port
    return runner, int(bound)
