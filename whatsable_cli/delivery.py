"""High-volume outbound HTTP over aiohttp (forwarding, replay): deliver one request, classify the answer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType

import aiohttp

from whatsable_cli.events import DeliveryResult
from whatsable_cli.http_rules import end_to_end_headers, snippet

MAX_RESPONSE_BYTES = 1 << 20


async def read_capped(stream: aiohttp.StreamReader, limit: int) -> bytes:
    """The whole answer up to `limit` bytes: one read() may return just the first chunk that arrived."""
    chunks: list[bytes] = []
    size = 0
    while size < limit and (chunk := await stream.read(limit - size)):
        chunks.append(chunk)
        size += len(chunk)
        if stream.at_eof():  # all of it arrived: no second read just to see the end
            break
    return b"".join(chunks)


@dataclass
class Delivery:
    """A delivery's result plus what relaying the answer needs (its body and content type)."""

    result: DeliveryResult
    body: bytes = b""
    content_type: str | None = None


class Deliverer:
    """One aiohttp session reused for every delivery (keep-alive), redirects never followed."""

    def __init__(self, *, timeout: float = 10.0, connections: int = 100, verify_tls: bool = True) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._connections = connections
        self._verify_tls = verify_tls  # False: accept a self-signed https://localhost app (listen --skip-verify)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Deliverer:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._connections, ttl_dns_cache=300, ssl=self._verify_tls),
            timeout=self._timeout,
            auto_decompress=False,  # relay the bytes the app sent, not a decoded copy
            cookie_jar=aiohttp.DummyCookieJar(),  # send the headers given, never cookies an earlier answer set
            skip_auto_headers=("User-Agent", "Content-Type", "Accept", "Accept-Encoding"),
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def deliver(
        self, url: str, body: bytes, headers: Iterable[tuple[str, str]], *, method: str = "POST"
    ) -> Delivery:
        """Send one request; any failure to get an HTTP answer becomes an error on the result."""
        assert self._session is not None, "use `async with Deliverer()`"
        started = time.perf_counter()
        result = DeliveryResult(url=url)
        try:
            async with self._session.request(
                method, url, data=body, headers=end_to_end_headers(headers), allow_redirects=False
            ) as response:
                payload = await read_capped(response.content, MAX_RESPONSE_BYTES)
                result.status = response.status
                result.response_snippet = snippet(payload)
                result.retry_after = response.headers.get("Retry-After")
                delivery = Delivery(result, payload, response.headers.get("Content-Type"))
        except TimeoutError:
            result.error, result.error_code = "timed out", "timeout"
            delivery = Delivery(result)
        except aiohttp.ClientConnectorError as exc:
            result.error, result.error_code = f"cannot connect: {exc.os_error.strerror or exc}", "unreachable"
            delivery = Delivery(result)
        except (aiohttp.ClientError, asyncio.IncompleteReadError, OSError) as exc:
            result.error, result.error_code = f"{type(exc).__name__}: {exc}", "connection_error"
            delivery = Delivery(result)
        result.latency_ms = round((time.perf_counter() - started) * 1000, 2)
        return delivery
