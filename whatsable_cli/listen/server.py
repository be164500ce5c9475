"""The listener's HTTP edge, on aiohttp.web's documented low-level server: requests in as `Incoming`, `Reply` out.

GET/HEAD on the webhook path (a sender's URL check) and the health route are answered here; every other
request goes to the service. The body cap, `Expect` and body timeouts are handled before the service sees
a request; aiohttp.web's own limits (head size, header count, keep-alive) guard the connection itself.
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import HttpVersion11, StreamReader, web

from whatsable_cli.config import DEFAULT_MAX_BODY, DEFAULT_PATH, SELF_TEST_HEADER
from whatsable_cli.errors import BadInputError
from whatsable_cli.listen.connections import Connection, ListenerServer
from whatsable_cli.listen.exchange import JSON_TYPE, Incoming, Reply, json_reply, unavailable_reply
from whatsable_cli.listen.model import HEALTH_PATH
from whatsable_cli.listen.server_log import ServerLog, one_line
from whatsable_cli.recording.lines import is_utf8

__all__ = ["ListenerHandler", "RunningServer", "ServerSettings", "start_server"]

KEEPALIVE_TIMEOUT_S = 75.0  # an idle connection, or one whose request head is still incomplete, closes after this
BODY_IDLE_TIMEOUT_S = 75.0  # a body that stops arriving for this long: 408 and the connection closes
# After an answer given without reading the whole body (413), the rest is read and dropped for up to this
# long before the connection closes: closing at once would reset it, and a reset can overtake the answer.
LINGER_S = 10.0
# aiohttp.web decodes a request body sent with one of these, or fails the request when it cannot: a body
# that reached the handler under one of them is the decoded one. Any other coding is left as it came.
DECODED_CODINGS = frozenset({"gzip", "deflate", "br", "zstd"})
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class ListenerHandler(Protocol):
    """What the server needs from the service behind it."""

    def handle(self, incoming: Incoming) -> Reply | Awaitable[Reply]:
        """A Reply when the answer is known at once; an awaitable when it waits (on a write, a forward)."""
        ...

    def lifespan(self) -> AbstractAsyncContextManager[None]: ...

    def health(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ServerSettings:
    path: str = DEFAULT_PATH
    max_body: int = DEFAULT_MAX_BODY
    shutdown_grace: float = 5.0  # in-flight requests may finish within this when the server stops


class Routes:
    """The one request handler of the low-level server."""

    def __init__(
        self,
        handler: ListenerHandler,
        settings: ServerSettings,
        warn: Callable[[str], None],
        connections: Mapping[asyncio.BaseTransport, Connection],
    ) -> None:
        self._handler = handler
        self._path = settings.path
        self._max_body = settings.max_body
        self._warn = warn
        self._connections = connections

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        transport = request.transport
        connection = self._connections.get(transport) if transport is not None else None
        if connection is not None:
            connection.started()
        try:
            reply, close = await self._answer(request, connection)
        except Exception as exc:  # our own fault: never a 500, a retry later
            self._warn(f"answering {request.method} {request.path!r} failed: {type(exc).__name__}: {exc} (503 sent)")
            reply, close = unavailable_reply(), False
        finally:
            if connection is not None:
                connection.finished()
        try:
            return response(reply, close=close)
        except Exception as exc:
            self._warn(f"cannot send a {reply.status} answer: {type(exc).__name__}: {exc} (503 sent)")
            return response(unavailable_reply(), close=close)

    async def _answer(self, request: web.BaseRequest, connection: Connection | None) -> tuple[Reply, bool]:
        """The reply, and whether the connection closes after it."""
        method, path = request.method, request.path
        if method in ("GET", "HEAD"):
            if path == self._path:
                return _probe(request), False
            if path == HEALTH_PATH:
                return json_reply(200, {"ok": True, **self._handler.health()}), False
        headers = request.headers
        expect = headers.get("Expect")
        if expect is not None and request.version == HttpVersion11 and expect.lower() != "100-continue":
            return json_reply(417, {"error": "expectation_failed", "expect": expect}), True
        if method == "CONNECT":  # no body, by definition (aiohttp's pure-Python parser reads one until EOF)
            read: tuple[bytes, int, bool] | Reply = (b"", 0, False)
        else:
            read = await self._read_body(request, connection, expect is not None)
        if isinstance(read, Reply):
            return read, True
        body, size, omitted = read
        coding = headers.get("Content-Encoding")
        incoming = Incoming(
            method=method,
            path=path,
            query=request.query_string,
            headers=headers,
            header_pairs=header_pairs(request.raw_headers),
            body=body,
            body_size=size,
            body_omitted=omitted,
            remote=request.remote,
            scheme="http",
            on_webhook_path=path == self._path,
            body_decoded=coding is not None and coding.isascii() and coding.lower() in DECODED_CODINGS,
        )
        result = self._handler.handle(incoming)
        reply = result if isinstance(result, Reply) else await result
        # After an unread body (or a CONNECT, after which nothing is HTTP) the connection closes.
        return reply, omitted or method == "CONNECT"

    async def _read_body(
        self, request: web.BaseRequest, connection: Connection | None, expects: bool
    ) -> tuple[bytes, int, bool] | Reply:
        """(body, size, omitted): a body over the cap is not read (its declared size is kept), or read only
        up to the cap when its size was not declared; a Reply when it cannot be read."""
        cap = self._max_body
        declared = request.content_length
        if declared is not None and declared > cap:
            return b"", declared, True
        content = request.content
        try:
            if content.is_eof():  # all of it came with the head: nothing to wait for
                body = content.read_nowait(-1)
                return (body, len(body), False) if len(body) <= cap else (b"", max(declared or 0, len(body)), True)
            if connection is not None and connection.ended:
                return json_reply(400, {"error": "incomplete_body"})  # the client sends nothing more
            if expects and request.version == HttpVersion11 and request.transport is not None:
                request.transport.write(_CONTINUE)  # as aiohttp.web's documented expect handler does
            if connection is not None:
                connection.reading = content
            try:
                return await _read_capped(content, cap, declared, idle_timeout=BODY_IDLE_TIMEOUT_S)
            finally:
                if connection is not None:
                    connection.reading = None
        except TimeoutError:
            return json_reply(408, {"error": "body_timeout"})
        except web.RequestPayloadError as exc:  # bad chunk framing, a body its Content-Encoding cannot decode
            return json_reply(400, {"error": "bad_body", "detail": one_line(exc)})
        except ConnectionError:  # the client went away mid-body: there is nobody to answer
            return json_reply(400, {"error": "incomplete_body"})


async def _read_capped(
    content: StreamReader, cap: int, declared: int | None, idle_timeout: float
) -> tuple[bytes, int, bool]:
    """Read as the body comes, until it ends, passes the cap, or stops coming for `idle_timeout` seconds."""
    chunks: list[bytes] = []
    size = 0
    loop = asyncio.get_running_loop()
    async with asyncio.timeout_at(loop.time() + idle_timeout) as deadline:
        while chunk := await content.readany():
            size += len(chunk)
            if size > cap:  # chunked, or decoded, past the cap: found out while reading
                return b"", max(declared or 0, size), True
            chunks.append(chunk)
            deadline.reschedule(loop.time() + idle_timeout)
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return body, size, False


def header_pairs(raw_headers: tuple[tuple[bytes, bytes], ...]) -> list[tuple[str, str]]:
    """The headers as received, in order; value bytes that are not UTF-8 kept as surrogate escapes."""
    return [(name.decode("latin-1"), value.decode("utf-8", "surrogateescape")) for name, value in raw_headers]


def _probe(request: web.BaseRequest) -> Reply:
    """GET/HEAD on the webhook path: some senders check the URL before saving it (Meta echoes a challenge)."""
    challenge = request.query.get("hub.challenge")
    if challenge is not None:
        return Reply(200, challenge.encode("utf-8", "surrogateescape"), "text/plain; charset=utf-8")
    # The tunnel's self-test: echo its nonce to prove the request reached this listener.
    nonce = request.headers.get(SELF_TEST_HEADER)
    return json_reply(200, {"ok": True, "webhook": True}, {SELF_TEST_HEADER: nonce} if nonce else None)


def response(reply: Reply, *, close: bool = False) -> web.Response:
    """The aiohttp response for a reply. A value that cannot be a header (a relayed one with a line break,
    or bytes that are not UTF-8) is left out: it must never split the answer or fail it."""
    headers = {name: value for name, value in reply.headers.items() if _fits_header(name) and _fits_header(value)}
    status = reply.status
    body: bytes | None = reply.body
    if status in (204, 304):  # never a body, nor a Content-Length (aiohttp leaves both out)
        body = None
    elif reply.content_type is JSON_TYPE or (reply.content_type and _fits_header(reply.content_type)):
        headers["Content-Type"] = reply.content_type
    answer = web.Response(status=status, body=body, headers=headers)
    if close:
        answer.force_close()
    return answer


def _fits_header(text: str) -> bool:
    return "\r" not in text and "\n" not in text and "\x00" not in text and is_utf8(text)


class RunningServer:
    """A started server; `close()` stops it: no new connections, idle ones closed, in-flight requests
    finish within the grace period, the rest are cut."""

    def __init__(self, runner: web.ServerRunner, log: ServerLog) -> None:
        self._runner = runner
        self._log = log

    async def close(self) -> None:
        try:
            await self._runner.cleanup()
        finally:
            self._log.close()


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
    handler: ListenerHandler, settings: ServerSettings, host: str, port: int, warn: Callable[[str], None]
) -> tuple[RunningServer, int]:
    """Start serving; returns the server and the port actually bound (BadInputError when unusable)."""
    log = ServerLog(warn)
    connections: dict[asyncio.BaseTransport, Connection] = {}
    routes = Routes(handler, settings, warn, connections)
    server = ListenerServer(
        routes,
        connections,
        keepalive_timeout=KEEPALIVE_TIMEOUT_S,
        lingering_time=LINGER_S,
        access_log=None,
        logger=log.logger,
    )
    runner = web.ServerRunner(server, shutdown_timeout=settings.shutdown_grace)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:  # includes socket.gaierror for an unknown --host
        await runner.cleanup()
        log.close()
        raise _bind_error(exc, host, port) from None
    return RunningServer(runner, log), int(runner.addresses[0][1])
