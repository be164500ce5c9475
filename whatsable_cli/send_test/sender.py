"""send-test's outbound HTTP (the only httpx user): one request, no redirects, connect and total time apart."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

from whatsable_cli import __version__
from whatsable_cli.delivery.http_rules import snippet
from whatsable_cli.delivery.results import CONNECTION, DNS, PROTOCOL, REFUSED, TIMEOUT, TLS

USER_AGENT = f"whatsable-send-test/{__version__}"
MAX_RESPONSE_BYTES = 64 * 1024

# httpcore calls this with each phase's event name ("connection.connect_tcp.started", ...) and details.
Trace = Callable[[str, dict[str, Any]], Awaitable[None]]

# Why a request got no HTTP answer (an invalid URL is caught before sending: http_rules.check_http_url).


@dataclass(frozen=True)
class OutboundRequest:
    """The exact request send-test sends (and `--dry-run` prints)."""

    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class Exchange:
    """What came back: an HTTP answer, or the classified reason there was none."""

    status: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    snippet: str = ""
    body: bytes = b""  # the answer's start (up to MAX_RESPONSE_BYTES), for checks on its content
    connect_ms: float | None = None  # None when no new connection was opened (or it never completed)
    total_ms: float = 0.0
    error: str | None = None
    error_code: str | None = None

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)


def _causes(exc: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def classify(exc: BaseException, url: str, timeout: float) -> tuple[str, str]:
    """(error_code, message) for a failure to get an answer, from the exception and its causes."""
    host = httpx.URL(url).host
    chain = list(_causes(exc))
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        phase = "connecting" if isinstance(exc, httpx.ConnectTimeout) else "waiting for the answer"
        return TIMEOUT, f"timed out after {timeout:g} s {phase}"
    if any(isinstance(c, ssl.SSLError) for c in chain):
        reason = next(c for c in chain if isinstance(c, ssl.SSLError))
        return TLS, f"TLS error with {host}: {getattr(reason, 'reason', None) or reason}"
    if any(isinstance(c, socket.gaierror) for c in chain):
        return DNS, f"cannot resolve host {host!r} (DNS)"
    if any(isinstance(c, ConnectionRefusedError) for c in chain):
        return REFUSED, f"connection refused by {host}:{httpx.URL(url).port or _default_port(url)}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return PROTOCOL, f"the endpoint broke the HTTP exchange: {exc}"
    return CONNECTION, f"connection failed: {type(exc).__name__}: {exc}"


def _default_port(url: str) -> int:
    return 443 if url.startswith("https") else 80


class Sender:
    """An httpx client that opens a fresh connection per request (as a webhook sender does) so that
    connect time is measured every time, never follows redirects, and enforces a total deadline."""

    def __init__(self, *, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Sender:
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(self.timeout),
            limits=httpx.Limits(max_keepalive_connections=0),
            # trust_env stays on: a CI runner may only reach the endpoint through HTTPS_PROXY or a custom CA.
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def send(self, request: OutboundRequest) -> Exchange:
        """Send one request; a missing answer becomes a classified error on the Exchange."""
        assert self._client is not None, "use `async with Sender()`"
        marks: dict[str, float] = {}

        async def trace(name: str, info: dict[str, Any]) -> None:
            marks.setdefault(name, time.perf_counter())

        exchange = Exchange()
        started = time.perf_counter()
        try:
            # httpx's timeout is per phase; WhatsAble's 10 s is for the whole exchange.
            async with asyncio.timeout(self.timeout):
                await self._exchange(request, exchange, trace)
        except (httpx.HTTPError, OSError, TimeoutError) as exc:
            exchange.status = None
            exchange.error_code, exchange.error = classify(exc, request.url, self.timeout)
        exchange.total_ms = round((time.perf_counter() - started) * 1000, 2)
        exchange.connect_ms = _connect_ms(marks)
        return exchange

    async def _exchange(self, request: OutboundRequest, exchange: Exchange, trace: Trace) -> None:
        assert self._client is not None
        outbound = self._client.build_request(
            request.method, request.url, headers=request.headers, content=request.body, extensions={"trace": trace}
        )
        response = await self._client.send(outbound, stream=True)
        try:
            exchange.status = response.status_code
            exchange.headers = [(k, v) for k, v in response.headers.multi_items()]
            body = bytearray()
            async for chunk in response.aiter_raw():
                body += chunk
                if len(body) >= MAX_RESPONSE_BYTES:
                    break
            exchange.body = bytes(body)
            exchange.snippet = snippet(exchange.body)
        finally:
            await response.aclose()


def _connect_ms(marks: dict[str, float]) -> float | None:
    """TCP connect plus TLS handshake, from httpcore's trace events."""
    start = marks.get("connection.connect_tcp.started")
    end = marks.get("connection.start_tls.complete") or marks.get("connection.connect_tcp.complete")
    if start is None or end is None:
        return None
    return round((end - start) * 1000, 2)
