"""The listener's routes: turns HTTP requests into `Incoming` values for a handler, and its `Reply` back."""

from __future__ import annotations

import errno
import json
from collections.abc import Coroutine, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from whatsable_cli.errors import BadInputError
from whatsable_cli.http_messages import JSON_TYPE, Reply, Request
from whatsable_cli.http_server import HttpServer
from whatsable_cli.listen_model import DEFAULT_MAX_BODY, HEALTH_PATH
from whatsable_cli.tunnel_health import SELF_TEST_HEADER

__all__ = ["JSON_TYPE", "Incoming", "ListenerHandler", "Reply", "ServerSettings", "json_reply", "start_server"]


@dataclass(slots=True)
class Incoming:
    """One received request, as the listen service sees it (no HTTP-library types)."""

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


class ListenerHandler(Protocol):
    """What the server needs from the service behind it."""

    def handle(self, incoming: Incoming) -> Reply | Coroutine[Any, Any, Reply]:
        """A Reply when the answer is known at once; a coroutine when it waits (on a forward)."""
        ...

    def commit(self) -> Reply | None:
        """Finish what provisional answers depend on, before they are sent; the answer to send instead if it failed."""
        ...

    def lifespan(self) -> AbstractAsyncContextManager[None]: ...

    def health(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ServerSettings:
    path: str = "/webhook"
    max_body: int = DEFAULT_MAX_BODY


def json_reply(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(payload).encode(), headers=headers or {})


class Routes:
    """GET/HEAD on the webhook path and the health route answer themselves; everything else is the handler's."""

    def __init__(self, handler: ListenerHandler, settings: ServerSettings) -> None:
        self._handler = handler
        self._settings = settings

    def __call__(self, request: Request) -> Reply | Coroutine[Any, Any, Reply]:
        method, path = request.method, request.path
        if method in ("GET", "HEAD"):
            if path == self._settings.path:
                return _probe(request)
            if path == HEALTH_PATH:
                return json_reply(200, {"ok": True, **self._handler.health()})
        headers = request.headers
        return self._handler.handle(
            Incoming(
                method=method,
                path=path,
                query=request.query_string,
                headers=headers,
                header_pairs=list(headers.items()),
                body=request.body,
                body_size=request.body_size,
                body_omitted=request.body_omitted,
                remote=request.remote,
                scheme="http",
                on_webhook_path=path == self._settings.path,
            )
        )


def _probe(request: Request) -> Reply:
    """GET/HEAD on the webhook path: some senders check the URL before saving it (Meta echoes a challenge)."""
    challenge = request.query.get("hub.challenge")
    if challenge is not None:
        return Reply(200, challenge.encode(), "text/plain; charset=utf-8")
    # The tunnel's self-test: echo its nonce to prove the request reached this listener.
    nonce = request.headers.get(SELF_TEST_HEADER)
    return json_reply(200, {"ok": True, "webhook": True}, {SELF_TEST_HEADER: nonce} if nonce else None)


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
    handler: ListenerHandler, settings: ServerSettings, host: str, port: int
) -> tuple[HttpServer, int]:
    """Start serving; returns the server (close(grace) stops it gracefully) and the port actually bound."""
    server = HttpServer(Routes(handler, settings), max_body=settings.max_body, before_send=handler.commit)
    try:
        bound = await server.start(host, port)
    except OSError as exc:  # includes socket.gaierror for an unknown --host
        raise _bind_error(exc, host, port) from None
    return server, bound
