"""A lean HTTP/1.1 client for replay to http:// targets: keep-alive connections, aiohttp's C response parser.

aiohttp's ClientSession spends ~100 µs of Python a request (sessions, tracing, cookies, timers, tasks);
replay sends thousands of known requests to one target, so it writes each request's bytes itself and lets
aiohttp's own parser read the answers. Same contract as delivery.Deliverer: the headers given plus Host and
Content-Length (nothing added, hop-by-hop dropped), redirects never followed, answers never decompressed,
the body read up to MAX_RESPONSE_BYTES, one total timeout, errors classified the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType

from aiohttp.http import HttpProcessingError, HttpResponseParser, RawResponseMessage
from aiohttp.streams import StreamReader
from multidict import CIMultiDictProxy
from yarl import URL

from whatsable_cli.delivery import MAX_RESPONSE_BYTES, Delivery
from whatsable_cli.events import DeliveryResult
from whatsable_cli.http_rules import end_to_end_headers, snippet
from whatsable_cli.socket_reads import BufferedReads

_NO_BODY_METHODS = frozenset({"HEAD"})  # an answer to HEAD has headers only, whatever Content-Length says


class ServerDisconnectedError(ConnectionError):
    """The server closed the connection before its answer was complete."""

    def __init__(self) -> None:
        super().__init__("Server disconnected")


@dataclass(frozen=True)
class _Target:
    """What every request to one URL shares: where to connect and the start of its request head."""

    host: str
    port: int
    head: bytes  # request line target and Host header, after the method


def handles(url: str) -> bool:
    """Plain http:// without credentials in the URL (aiohttp turns those into an Authorization header)."""
    parsed = URL(url)
    return parsed.scheme == "http" and parsed.user is None and parsed.password is None


def parse_target(url: str) -> _Target:
    parsed = URL(url)
    if parsed.scheme != "http" or not parsed.raw_host or parsed.port is None:
        raise ValueError(f"not an http:// URL: {url!r}")
    host = parsed.raw_host
    netloc = f"[{host}]" if ":" in host else host  # an IPv6 literal
    if not parsed.is_default_port():
        netloc += f":{parsed.port}"
    return _Target(host, parsed.port, f" {parsed.raw_path_qs} HTTP/1.1\r\nHost: {netloc}\r\n".encode())


def encode_request(target: _Target, method: str, body: bytes, headers: Iterable[tuple[str, str]]) -> bytes:
    """The exact request bytes: refuses a CR or LF in a header (no header injection from a recording)."""
    pairs = end_to_end_headers(headers)
    lines = "".join(f"{name}: {value}\r\n" for name, value in pairs)
    if lines.count("\n") != len(pairs) or lines.count("\r") != len(pairs):  # one line end per header, no more
        raise ValueError("Newline or carriage return character detected in HTTP status/header")
    head = f"{lines}Content-Length: {len(body)}\r\n\r\n".encode("utf-8", "surrogateescape")
    return method.encode("ascii") + target.head + head + body


@dataclass(slots=True)
class _Answer:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    reusable: bool  # the connection can carry the next request


class _Connection(BufferedReads):
    """One keep-alive connection carrying one request at a time; also the flow-control peer of the body's
    StreamReader (`pause_reading`, `resume_reading`, `_reading_paused`, `connected` are what it calls)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self._parser: HttpResponseParser | None = None
        self._waiter: asyncio.Future[_Answer] | None = None
        self._message: RawResponseMessage | None = None  # once the head is parsed
        self._payload: StreamReader | None = None
        self._chunks: list[bytes] = []
        self._size = 0
        self._reading_paused = False

    @property
    def connected(self) -> bool:
        return self.transport is not None

    @property
    def usable(self) -> bool:
        return self.transport is not None and not self.transport.is_closing() and self._waiter is None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: BaseException | None) -> None:
        self.transport = None
        if self._waiter is None or self._parser is None:
            return
        try:
            self._parser.feed_eof()  # an answer read until the connection closes ends here
        except HttpProcessingError as error:
            self._fail(error)
            return
        self._collect(closing=True)
        self._fail(ServerDisconnectedError())  # no-op when the answer was complete

    def pause_reading(self) -> None:
        if not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()

    def resume_reading(self, resume_parser: bool = True) -> None:
        if self._reading_paused and self.transport is not None:
            self._reading_paused = False
            self.transport.resume_reading()

    def exchange(self, request: bytes, method: str) -> asyncio.Future[_Answer]:
        """Send one request; the future resolves with its answer (or the error that ended it)."""
        assert self.transport is not None and self._waiter is None
        self._parser = HttpResponseParser(
            self,  # type: ignore[arg-type]  # it only needs the flow-control methods above
            self._loop,
            2**16,
            response_with_body=method not in _NO_BODY_METHODS,
            read_until_eof=True,  # no Content-Length and not chunked: the body ends when the connection does
            auto_decompress=False,  # relay the bytes the app sent, not a decoded copy
        )
        self._message, self._payload, self._chunks, self._size = None, None, [], 0
        self._waiter = self._loop.create_future()
        self.transport.write(request)
        return self._waiter

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._parser is None:
            if self.transport is not None:  # nothing was asked: a server talking out of turn is not reused
                self.transport.close()
            return
        try:
            messages, _upgraded, _tail = self._parser.feed_data(data)
        except HttpProcessingError as error:
            self._fail(error)
            return
        for message, payload in messages:  # an interim 1xx answer (103 Early Hints) is skipped, as aiohttp does
            if self._message is None and not (100 <= message.code < 200 and message.code != 101):
                self._message, self._payload = message, payload
        self._collect(closing=False)

    def _collect(self, *, closing: bool) -> None:
        """Move the body read so far out of the parser's reader; answer when it is complete or over the cap."""
        if self._payload is None or self._waiter is None or self._message is None:
            return
        try:
            chunk = self._payload.read_nowait(-1)
        except Exception as error:  # the parser ended the body with an error (e.g. a broken chunk)
            self._fail(error)
            return
        if chunk and self._size < MAX_RESPONSE_BYTES:
            self._chunks.append(chunk[: MAX_RESPONSE_BYTES - self._size])
            self._size += len(chunk)
        complete = self._payload.is_eof()
        if not complete and self._size < MAX_RESPONSE_BYTES:
            return  # more to come
        message = self._message
        reusable = complete and not closing and not message.should_close and not message.upgrade
        answer = _Answer(message.code, message.headers, b"".join(self._chunks), reusable)
        waiter, self._waiter, self._payload = self._waiter, None, None
        if not reusable and self.transport is not None:
            self.transport.close()  # over the cap (the rest unread), or the server said close
        waiter.set_result(answer)

    def _fail(self, error: BaseException) -> None:
        waiter, self._waiter = self._waiter, None
        if self.transport is not None:
            self.transport.close()
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class LeanDeliverer:
    """delivery.Deliverer's interface for http:// URLs: a pool of keep-alive connections per host and port."""

    def __init__(self, *, timeout: float = 10.0, connections: int = 100) -> None:
        self._timeout = timeout
        self._connections = connections  # idle connections kept per target (replay's workers each use one)
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._targets: dict[str, _Target] = {}
        self._open: set[_Connection] = set()

    async def __aenter__(self) -> LeanDeliverer:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for connection in self._open:
            connection.close()
        self._open.clear()
        self._idle.clear()

    async def deliver(
        self, url: str, body: bytes, headers: Iterable[tuple[str, str]], *, method: str = "POST"
    ) -> Delivery:
        """Send one request; any failure to get an HTTP answer becomes an error on the result."""
        started = time.perf_counter()
        result = DeliveryResult(url=url)
        target = self._targets.get(url) or self._targets.setdefault(url, parse_target(url))
        method = method.upper()  # as aiohttp sends it
        request = encode_request(target, method, body, headers)
        connection: _Connection | None = None
        try:
            async with asyncio.timeout(self._timeout):
                connection = await self._acquire(target)
                answer = await connection.exchange(request, method)
        except TimeoutError:
            result.error, result.error_code = "timed out", "timeout"
            delivery = Delivery(result)
        except _ConnectError as exc:
            result.error, result.error_code = f"cannot connect: {exc.os_error.strerror or exc.os_error}", "unreachable"
            delivery = Delivery(result)
        except (HttpProcessingError, OSError) as exc:
            result.error, result.error_code = f"{type(exc).__name__}: {exc}", "connection_error"
            delivery = Delivery(result)
        else:
            result.status = answer.status
            result.response_snippet = snippet(answer.body)
            result.retry_after = answer.headers.get("Retry-After")
            delivery = Delivery(result, answer.body, answer.headers.get("Content-Type"))
            idle = self._idle.setdefault((target.host, target.port), [])
            if answer.reusable and connection is not None and len(idle) < self._connections:
                idle.append(connection)
                connection = None
        finally:
            if connection is not None:  # failed, timed out, cancelled, or not reusable: never back in the pool
                connection.close()
                self._open.discard(connection)
        result.latency_ms = round((time.perf_counter() - started) * 1000, 2)
        return delivery

    async def _acquire(self, target: _Target) -> _Connection:
        idle = self._idle.get((target.host, target.port))
        while idle:
            connection = idle.pop()
            if connection.usable:
                return connection
            self._open.discard(connection)  # the server closed it while it was idle
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(lambda: _Connection(loop), target.host, target.port)
        except OSError as exc:
            raise _ConnectError(exc) from exc
        self._open.add(connection)
        return connection


class _ConnectError(Exception):
    """No connection could be made (refused, no route, unknown host): the target is unreachable."""

    def __init__(self, os_error: OSError) -> None:
        super().__init__(str(os_error))
        self.os_error = os_error
