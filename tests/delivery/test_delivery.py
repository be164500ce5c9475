"""Outbound delivery (replay, forwarding) on aiohttp's ClientSession against real loopback servers: the exact
request bytes, every way an answer can end, keep-alive and reconnects, broken servers, and what is refused."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from whatsable_cli.delivery.client import MAX_RESPONSE_BYTES, Deliverer
from whatsable_cli.delivery.results import UNSENDABLE

BODY = b'{"event":"message_status","data":{"status":"read"}}'
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class Raw:
    """A raw TCP server: each connection runs `session`; counts connections and keeps each request's bytes."""

    def __init__(self, session: RawSession) -> None:
        self.session = session
        self.connections = 0
        self.requests: list[bytes] = []
        self.url = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.session(self, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        """One request as it came on the wire (head and Content-Length body)."""
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
            0,
        )
        request = head + await reader.readexactly(length)
        self.requests.append(request)
        return request


RawSession = Callable[[Raw, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(session: RawSession) -> AsyncIterator[Raw]:
    raw = Raw(session)
    server = await asyncio.start_server(raw.handle, "127.0.0.1", 0)
    raw.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook?a=1%20b"
    try:
        yield raw
    finally:
        server.close()


def answering(answer: bytes) -> RawSession:
    """Answers every request on the connection with `answer`."""

    async def session(raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while not reader.at_eof():
            await raw.read_request(reader)
            writer.write(answer)
            await writer.drain()

    return session


def free_port() -> int:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_the_request_bytes_are_the_headers_given_plus_host_and_content_length() -> None:
    headers = [
        ("Host", "recorded.example"),
        ("Content-Type", "application/json"),
        ("X-Sig", "abc"),
        ("Connection", "keep-alive"),
        ("Content-Length", "999"),
        ("Transfer-Encoding", "chunked"),
        ("X-Sig", "second"),
    ]
    async with raw_server(answering(OK)) as raw, Deliverer() as deliverer:
        delivery = await deliverer.deliver(raw.url, b'{"a":1}', headers, method="post")
    assert delivery.result.status == 200 and delivery.body == b"ok" and delivery.result.response_snippet == "ok"
    port = raw.url.split(":")[2].split("/")[0]
    # hop-by-hop headers dropped, duplicates kept in order, nothing added (no User-Agent, Accept, cookies)
    assert raw.requests == [
        (
            f"POST /hook?a=1%20b HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"X-Sig: abc\r\nX-Sig: second\r\nContent-Length: 7\r\n\r\n"
        ).encode()
        + b'{"a":1}'
    ]


async def test_delivers_exact_bytes_and_end_to_end_headers(aiohttp_server: Any) -> None:
    seen: dict[str, Any] = {}

    async def handler(request: web.Request) -> web.Response:
        seen["body"] = await request.read()
        seen["headers"] = dict(request.headers)
        return web.json_response({"ok": True}, status=202)

    app = web.Application()
    app.router.add_post("/hook", handler)
    server = await aiohttp_server(app)
    headers = [
        ("X-Webhook-Signature", "abc"),
        ("Connection", "close"),
        ("Host", "elsewhere"),
        ("Content-Length", "1"),
        ("X-Name", "café\tau lait"),  # UTF-8 text and a tab go out as they are
    ]
    async with Deliverer(timeout=5) as deliverer:
        delivery = await deliverer.deliver(str(server.make_url("/hook")), BODY, headers)
    assert seen["body"] == BODY
    assert seen["headers"]["X-Webhook-Signature"] == "abc"
    assert seen["headers"]["X-Name"] == "café\tau lait"
    assert seen["headers"]["Host"] == f"127.0.0.1:{server.port}"
    assert delivery.result.status == 202 and delivery.result.ok
    assert delivery.body == b'{"ok": true}'
    assert delivery.result.latency_ms is not None and delivery.result.latency_ms >= 0


async def test_one_connection_is_kept_alive_across_requests() -> None:
    async with raw_server(answering(OK)) as raw, Deliverer() as deliverer:
        statuses = [(await deliverer.deliver(raw.url, b"x", [])).result.status for _ in range(5)]
    assert statuses == [200] * 5
    assert raw.connections == 1 and len(raw.requests) == 5


async def test_connection_close_is_honoured_and_the_next_request_reconnects() -> None:
    answer = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

    async def once(raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.read_request(reader)
        writer.write(answer)
        await writer.drain()
        await reader.read()  # the client closes first, as it was told to

    async with raw_server(once) as raw, Deliverer() as deliverer:
        statuses = [(await deliverer.deliver(raw.url, b"x", [])).result.status for _ in range(3)]
    assert statuses == [202] * 3 and raw.connections == 3


async def test_chunked_and_read_until_close_answers_are_read_whole() -> None:
    until_close = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it"

    async def chunked_then_close(raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
        await writer.drain()
        writer.write(b"4\r\ndefg\r\n0\r\n\r\n")
        await raw.read_request(reader)  # the chunked answer ended cleanly: the connection was reused
        writer.write(until_close)
        await writer.drain()

    async with raw_server(chunked_then_close) as raw, Deliverer() as deliverer:
        first = await deliverer.deliver(raw.url, b"x", [])
        second = await deliverer.deliver(raw.url, b"x", [])
    assert first.body == b"abcdefg"
    assert second.body == b"all of it" and second.content_type == "text/plain"
    assert raw.connections == 1


async def test_a_head_answer_has_no_body_whatever_its_content_length() -> None:
    head_answer = b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
    async with raw_server(answering(head_answer)) as raw, Deliverer(timeout=5) as deliverer:
        delivery = await deliverer.deliver(raw.url, b"", [], method="HEAD")
        again = await deliverer.deliver(raw.url, b"", [], method="head")
    assert delivery.result.status == 200 and delivery.body == b"" and again.result.status == 200
    assert raw.requests[1].startswith(b"HEAD /hook")  # sent upper-cased
    assert raw.connections == 1


async def test_a_big_answer_is_read_whole_and_one_over_the_cap_is_cut_there_and_its_connection_dropped() -> None:
    # Both are far over what the client buffers at once, so each takes many reads.
    under = b"u" * (MAX_RESPONSE_BYTES - 1)
    over = b"y" * (MAX_RESPONSE_BYTES + 300_000)
    answers = iter([under, over, b"ok"])

    async def session(raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while not reader.at_eof():
            await raw.read_request(reader)
            body = next(answers)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            await writer.drain()

    async with raw_server(session) as raw, Deliverer() as deliverer:
        whole = await deliverer.deliver(raw.url, b"x", [])
        cut = await deliverer.deliver(raw.url, b"x", [])
        after = await deliverer.deliver(raw.url, b"x", [])
    assert whole.body == under
    assert len(cut.body) == MAX_RESPONSE_BYTES and cut.result.response_snippet.endswith("…")  # type: ignore[union-attr]
    assert after.body == b"ok"
    assert raw.connections == 2  # the unread rest was never mistaken for the next answer


async def test_an_encoded_answer_is_not_decompressed(aiohttp_server: Any) -> None:
    packed = gzip.compress(b'{"ok": true}')

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Accept-Encoding"))
        return web.Response(body=packed, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})

    seen: list[str | None] = []
    app = web.Application()
    app.router.add_post("/hook", handler)
    server = await aiohttp_server(app)
    async with Deliverer() as deliverer:
        delivery = await deliverer.deliver(str(server.make_url("/hook")), BODY, [])
    assert delivery.body == packed  # relayed as the app sent it
    assert seen == [None]  # and no Accept-Encoding was added


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


async def test_a_cookie_the_target_set_is_never_sent_back(aiohttp_server: Any) -> None:
    cookies: list[str | None] = []

    async def handler(request: web.Request) -> web.Response:
        cookies.append(request.headers.get("Cookie"))
        response = web.Response()
        response.set_cookie("session", "abc123")
        return response

    app = web.Application()
    app.router.add_post("/hook", handler)
    server = await aiohttp_server(app)
    url = str(server.make_url("/hook")).replace("127.0.0.1", "localhost")  # a host name cookies are kept for
    async with Deliverer() as deliverer:
        for _ in range(2):
            await deliverer.deliver(url, BODY, [("Cookie", "recorded=1")])
    assert cookies == ["recorded=1", "recorded=1"]  # the recorded header, nothing the target set


async def test_an_interim_1xx_answer_is_skipped_for_the_final_one() -> None:
    hints = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" + OK
    async with raw_server(answering(hints)) as raw, Deliverer(timeout=5) as deliverer:
        first = await deliverer.deliver(raw.url, b"x", [])
        again = await deliverer.deliver(raw.url, b"x", [])
    assert (first.result.status, first.body) == (again.result.status, again.body) == (200, b"ok")


async def test_a_server_that_hangs_up_or_talks_garbage_is_a_protocol_error() -> None:
    async def hang_up(raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.read_request(reader)

    async def garbage(raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.read_request(reader)
        writer.write(b"SMTP ready\r\n\r\n")
        await writer.drain()
        await reader.read()

    async def short(raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await writer.drain()

    results = []
    for session in (hang_up, garbage, short):
        async with raw_server(session) as raw, Deliverer(timeout=5) as deliverer:
            results.append((await deliverer.deliver(raw.url, b"x", [])).result)
    assert [r.error_code for r in results] == ["protocol"] * 3
    assert all(r.status is None and r.error and r.latency_ms is not None for r in results)
    assert results[0].error == "the target broke the HTTP exchange: Server disconnected"


async def test_a_refused_connection_is_reported_as_refused() -> None:
    async with Deliverer(timeout=2) as deliverer:
        delivery = await deliverer.deliver(f"http://127.0.0.1:{free_port()}/hook", BODY, [])
    assert delivery.result.status is None
    assert delivery.result.error_code == "refused"
    assert delivery.result.error is not None and delivery.result.error.startswith("connection refused by 127.0.0.1:")


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
    assert (delivery.result.error_code, delivery.result.error) == ("timeout", "timed out")


async def test_the_timeout_covers_the_whole_answer_not_just_its_head() -> None:
    release = asyncio.Event()

    async def drip(raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")  # the head at once, the rest never
        await writer.drain()
        await release.wait()

    async with raw_server(drip) as raw, Deliverer(timeout=0.2) as deliverer:
        delivery = await deliverer.deliver(raw.url, b"x", [])
        release.set()
    assert delivery.result.status is None and delivery.result.error_code == "timeout"


async def test_credentials_in_the_url_are_sent_as_basic_auth() -> None:
    async with raw_server(answering(OK)) as raw, Deliverer() as deliverer:
        url = raw.url.replace("http://", "http://user:pw@")
        delivery = await deliverer.deliver(url, b"x", [])
    assert delivery.result.status == 200
    assert b"\r\nAuthorization: Basic dXNlcjpwdw==\r\n" in raw.requests[0]


async def test_a_request_that_cannot_go_out_as_given_is_refused_and_nothing_is_sent() -> None:
    cases = {
        "line break": ("X-A", "b\r\nX-Evil: 1"),
        "NUL": ("X-A", "a\x00b"),
        "control character in a name": ("X-\x01A", "1"),
        "a byte that was not UTF-8": ("X-C", "caf\udce9"),  # as surrogateescape reads byte 0xE9 back
        "a lone surrogate": ("X-B", "\ud800"),
    }
    async with raw_server(answering(OK)) as raw, Deliverer() as deliverer:
        results = {what: await deliverer.deliver(raw.url, b"x", [header]) for what, header in cases.items()}
        both_auths = await deliverer.deliver(
            raw.url.replace("http://", "http://user:pw@"), b"x", [("Authorization", "Bearer recorded")]
        )
    for what, delivery in {**results, "Authorization and credentials in the URL": both_auths}.items():
        assert delivery.refused, what
        assert (delivery.result.status, delivery.result.error_code) == (None, UNSENDABLE), what
        assert delivery.result.error is not None and delivery.result.error.startswith("cannot send: "), what
    assert "a line break in the header 'X-A'" in str(results["line break"].result.error)
    assert "not UTF-8 in the header 'X-C'" in str(results["a byte that was not UTF-8"].result.error)
    assert raw.requests == []
