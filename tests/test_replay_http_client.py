"""replay's lean HTTP client against raw loopback servers: the exact request bytes, every way an answer can
end (Content-Length, chunked, at close, HEAD, over the cap), keep-alive and reconnects, and broken servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from tests import endpoints
from tests.helpers import run_cli
from tests.recordings import recorded, status_body, write_recording
from whatsable_cli import http_client
from whatsable_cli.delivery import MAX_RESPONSE_BYTES, Deliverer
from whatsable_cli.http_client import LeanDeliverer

Session = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class Raw:
    """A raw TCP server: each connection runs `session`; counts connections and keeps what was read."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.connections = 0
        self.requests: list[bytes] = []
        self.url = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.session(reader, writer)
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
    holder: list[Raw] = []
    raw = Raw(lambda reader, writer: session(holder[0], reader, writer))
    holder.append(raw)
    server = await asyncio.start_server(raw.handle, "127.0.0.1", 0)
    raw.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook?a=1%20b"
    try:
        yield raw
    finally:
        server.close()


async def answer_each(raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answer: bytes) -> None:
    while not reader.at_eof():
        await raw.read_request(reader)
        writer.write(answer)
        await writer.drain()


async def test_the_request_bytes_are_the_recorded_headers_plus_host_and_content_length() -> None:
    async with raw_server(lambda raw, r, w: answer_each(raw, r, w, OK)) as raw:
        headers = [
            ("Host", "recorded.example"),
            ("Content-Type", "application/json"),
            ("X-Sig", "abc"),
            ("Connection", "keep-alive"),
            ("Content-Length", "999"),
            ("X-Sig", "second"),
        ]
        async with LeanDeliverer() as lean:
            delivery = await lean.deliver(raw.url, b'{"a":1}', headers, method="post")
        async with Deliverer() as reference:  # aiohttp, as replay sends to https:// targets
            await reference.deliver(raw.url, b'{"a":1}', headers, method="post")
    assert delivery.result.status == 200 and delivery.body == b"ok" and delivery.result.response_snippet == "ok"
    port = raw.url.split(":")[2].split("/")[0]
    assert (
        raw.requests[0]
        == (
            f"POST /hook?a=1%20b HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"X-Sig: abc\r\nX-Sig: second\r\nContent-Length: 7\r\n\r\n"
        ).encode()
        + b'{"a":1}'
    )
    assert raw.requests[0] == raw.requests[1]  # byte for byte what aiohttp sends


async def test_one_connection_is_kept_alive_across_requests() -> None:
    async with raw_server(lambda raw, r, w: answer_each(raw, r, w, OK)) as raw, LeanDeliverer() as lean:
        statuses = [(await lean.deliver(raw.url, b"x", [])).result.status for _ in range(5)]
    assert statuses == [200] * 5
    assert raw.connections == 1 and len(raw.requests) == 5


async def test_connection_close_is_honoured_and_the_next_request_reconnects() -> None:
    answer = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

    async def once(raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.read_request(reader)
        writer.write(answer)
        await writer.drain()
        await reader.read()  # the client closes first, as it was told to

    async with raw_server(once) as raw, LeanDeliverer() as lean:
        statuses = [(await lean.deliver(raw.url, b"x", [])).result.status for _ in range(3)]
    assert statuses == [202] * 3 and raw.connections == 3


async def test_chunked_and_read_until_close_answers_are_read_whole() -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"
    until_close = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it"

    async def chunked_then_close(raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.read_request(reader)
        writer.write(chunked)
        await raw.read_request(reader)  # the chunked answer ended cleanly: the connection was reused
        writer.write(until_close)
        await writer.drain()

    async with raw_server(chunked_then_close) as raw, LeanDeliverer() as lean:
        first = await lean.deliver(raw.url, b"x", [])
        second = await lean.deliver(raw.url, b"x", [])
    assert first.body == b"abcdefg"
    assert second.body == b"all of it" and second.content_type == "text/plain"
    assert raw.connections == 1


async def test_a_head_answer_has_no_body_whatever_its_content_length() -> None:
    head_answer = b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
    async with (
        raw_server(lambda raw, r, w: answer_each(raw, r, w, head_answer)) as raw,
        LeanDeliverer(timeout=5) as lean,
    ):
        delivery = await lean.deliver(raw.url, b"", [], method="HEAD")
        again = await lean.deliver(raw.url, b"", [], method="head")  # sent upper-cased, as aiohttp does
    assert delivery.result.status == 200 and delivery.body == b"" and again.result.status == 200
    assert raw.connections == 1


async def test_an_answer_over_the_cap_is_cut_there_and_its_connection_dropped() -> None:
    size = MAX_RESPONSE_BYTES + 300_000
    big = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + b"y" * size

    async with raw_server(lambda raw, r, w: answer_each(raw, r, w, big)) as raw, LeanDeliverer() as lean:
        first = await lean.deliver(raw.url, b"x", [])
        second = await lean.deliver(raw.url, b"x", [])
    assert len(first.body) == MAX_RESPONSE_BYTES and first.result.response_snippet.endswith("…")  # type: ignore[union-attr]
    assert second.result.status == 200 and raw.connections == 2  # the unread rest was never mistaken for an answer


async def test_a_server_that_hangs_up_or_talks_garbage_is_a_connection_error() -> None:
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
        async with raw_server(session) as raw, LeanDeliverer(timeout=5) as lean:
            results.append((await lean.deliver(raw.url, b"x", [])).result)
    assert [r.error_code for r in results] == ["connection_error"] * 3
    assert all(r.status is None and r.latency_ms is not None for r in results)
    assert results[0].error == "ServerDisconnectedError: Server disconnected"


async def test_refused_and_timed_out_are_classified_as_by_aiohttp(aiohttp_server: object) -> None:
    release = asyncio.Event()

    async def stall(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response()

    app = web.Application()
    app.router.add_post("/slow", stall)
    server = await aiohttp_server(app)  # type: ignore[operator]
    async with raw_server(lambda raw, r, w: answer_each(raw, r, w, OK)) as raw:
        closed_url = raw.url
    async with LeanDeliverer(timeout=0.2) as lean:
        refused = (await lean.deliver(closed_url, b"x", [])).result
        slow = (await lean.deliver(str(server.make_url("/slow")), b"x", [])).result
    release.set()
    assert refused.error_code == "unreachable" and refused.error is not None
    assert refused.error.startswith("cannot connect: ")
    assert (slow.error_code, slow.error) == ("timeout", "timed out")


def test_a_recorded_header_with_a_line_break_or_unencodable_text_is_skipped_not_sent(tmp_path: Path) -> None:
    smuggled = recorded(1, status_body(1), [("X-A", "b\r\nX-Evil: 1")])
    unencodable = recorded(2, status_body(2), [("X-B", "LONE")])
    non_utf8 = recorded(3, status_body(3), [("X-C", "NONUTF8")])
    path = write_recording(tmp_path / "rec.jsonl", [recorded(0, status_body(0)), smuggled, unencodable, non_utf8])
    # JSON escapes a hand edit can put in: a lone surrogate (no bytes for it), and byte 0xE9 as a recorded
    # non-UTF-8 header comes back from the parser (sent back as it was)
    path.write_bytes(path.read_bytes().replace(b"LONE", b"\\ud800").replace(b"NONUTF8", b"caf\\udce9"))
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        run = run_cli("replay", str(path), "--to", endpoint.url)
    assert run.exit_code == 0, run.stderr
    assert "a line break in the header 'X-A'" in run.stderr and "cannot be encoded ('X-B')" in run.stderr
    assert "skipped 2" in run.stdout
    assert endpoint.received.bodies == [status_body(0), status_body(3)]
    assert endpoint.received.headers[1]["X-C"] == "caf\udce9"  # the server read byte 0xE9 back


async def test_an_interim_1xx_answer_is_skipped_for_the_final_one() -> None:
    hints = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" + OK
    async with raw_server(lambda raw, r, w: answer_each(raw, r, w, hints)) as raw:
        async with LeanDeliverer(timeout=5) as lean:
            ours = await lean.deliver(raw.url, b"x", [])
            again = await lean.deliver(raw.url, b"x", [])
        async with Deliverer(timeout=5) as reference:
            theirs = await reference.deliver(raw.url, b"x", [])
    assert (ours.result.status, ours.body) == (theirs.result.status, theirs.body) == (200, b"ok")
    assert again.result.status == 200


def test_credentials_in_the_url_go_through_aiohttp() -> None:
    assert http_client.handles("http://127.0.0.1:3000/hook")
    assert not http_client.handles("http://user:secret@127.0.0.1:3000/hook")  # aiohttp sends Basic auth for these
    assert not http_client.handles("https://example.test/hook")


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    closed = asyncio.Event()

    async def answer_then_hang_up(raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.read_request(reader)
        writer.write(OK)  # keep-alive as far as the answer says, then the server's idle timeout closes it
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        closed.set()

    async with raw_server(answer_then_hang_up) as raw, LeanDeliverer(timeout=5) as lean:
        first = await lean.deliver(raw.url, b"x", [])
        await asyncio.wait_for(closed.wait(), 5)
        idle = [connection for pool in lean._idle.values() for connection in pool]
        deadline = asyncio.get_running_loop().time() + 5
        while any(connection.usable for connection in idle):  # until the client has seen the close
            assert asyncio.get_running_loop().time() < deadline, "the client never saw the server close"
            await asyncio.sleep(0)
        second = await lean.deliver(raw.url, b"x", [])
    assert (first.result.status, second.result.status) == (200, 200)
    assert raw.connections == 2
