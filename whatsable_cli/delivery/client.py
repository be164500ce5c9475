"""High-volume outbound HTTP over aiohttp (forwarding, replay): deliver one request, classify the answer."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType

import aiohttp

from whatsable_cli.delivery.http_rules import end_to_end_headers, snippet
from whatsable_cli.delivery.results import CONNECTION, DNS, PROTOCOL, REFUSED, TIMEOUT, TLS, UNSENDABLE, DeliveryResult

MAX_RESPONSE_BYTES = 1 << 20

# What cannot go out in a header as given: a control character other than tab (aiohttp refuses them: a line
# break could smuggle a second request in), and lone surrogates. A surrogate in U+DC80..U+DCFF is how a byte
# that was not UTF-8 reads back (surrogateescape); aiohttp writes header text as UTF-8 only, and its C writer
# would drop the surrogate without a word, so the header would not be sent as it was.
_UNSENDABLE_CHAR = re.compile("[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")


def header_problem(name: str, value: str) -> str | None:
    """Why this header cannot be sent as it is (a phrase naming it), or None when it can."""
    if name.isprintable() and value.isprintable():  # the usual case, one cheap test each (tab is not printable)
        return None
    match = _UNSENDABLE_CHAR.search(name) or _UNSENDABLE_CHAR.search(value)
    if match is None:
        return None
    char = match.group()
    if char in "\r\n":
        return f"a line break in the header {name.strip()!r}"
    if "\udc80" <= char <= "\udcff":
        return f"bytes that are not UTF-8 in the header {name!r}, which cannot be sent as they were"
    if "\ud800" <= char <= "\udfff":
        return f"a header that cannot be encoded ({name!r})"
    return f"a control character in the header {name!r}"


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
    refused: bool = False  # not sent: the request itself cannot go out as given (retrying cannot help)


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
        pairs = end_to_end_headers(headers)
        for name, value in pairs:
            if (problem := header_problem(name, value)) is not None:
                result.error, result.error_code = f"cannot send: {problem}", UNSENDABLE
                return Delivery(result, refused=True)
        try:
            async with self._session.request(method, url, data=body, headers=pairs, allow_redirects=False) as response:
                payload = await read_capped(response.content, MAX_RESPONSE_BYTES)
                result.status = response.status
                result.response_snippet = snippet(payload)
                result.retry_after = response.headers.get("Retry-After")
                delivery = Delivery(result, payload, response.headers.get("Content-Type"))
        except TimeoutError:
            result.error, result.error_code = "timed out", TIMEOUT
            delivery = Delivery(result)
        except aiohttp.ClientConnectorError as exc:
            result.error_code, result.error = _connect_failure(exc)
            delivery = Delivery(result)
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientResponseError) as exc:
            result.error, result.error_code = f"the target broke the HTTP exchange: {exc}", PROTOCOL
            delivery = Delivery(result)
        except (aiohttp.ClientError, asyncio.IncompleteReadError, OSError) as exc:
            result.error, result.error_code = f"connection failed: {type(exc).__name__}: {exc}", CONNECTION
            delivery = Delivery(result)
        except ValueError as exc:  # refused before sending (an Authorization header and credentials in the URL)
            result.error, result.error_code = f"cannot send: {exc}", UNSENDABLE
            delivery = Delivery(result, refused=True)
        result.latency_ms = round((time.perf_counter() - started) * 1000, 2)
        return delivery


def _connect_failure(exc: aiohttp.ClientConnectorError) -> tuple[str, str]:
    """(error code, message) for a connection that could not be made."""
    where = f"{exc.host}:{exc.port}"
    if isinstance(exc, aiohttp.ClientSSLError | aiohttp.ClientConnectorCertificateError):
        return TLS, f"TLS error with {where}: {exc}"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return DNS, f"cannot resolve host {exc.host!r} (DNS)"
    if isinstance(exc.os_error, ConnectionRefusedError):
        return REFUSED, f"connection refused by {where}"
    return CONNECTION, f"cannot connect to {where}: {exc.os_error.strerror or exc}"
