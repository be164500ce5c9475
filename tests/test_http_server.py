"""The lean HTTP/1.1 server over real loopback sockets: keep-alive, pipelining, bodies, the cap, errors, stop."""

from __future__ import annotations

import asyncio
import gzip
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from whatsable_cli import http_server
from whatsable_cli.http_messages import Dispatch, Reply, Request
from whatsable_cli.http_server import HttpServer

HOST = "127.0.0.1"
DEADLINE = 5.0  # a hang fails the test instead of stalling the suite
CAP = 1000
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    head: bytes


class Recorder:
    """A fast dispatch: answers at once with what it saw; `slow` paths answer once `release` is set."""

    def __init__(self, *slow: str) -> None:
        self.requests: list[Request] = []
        self.slow = slow
        self.slow_started = asyncio.Event()
        self.release = asyncio.Event()
        self.cancelled = asyncio.Event()

    def __call__(self, request: Request) -> Reply | Coroutine[Any, Any, Reply]:
        self.requests.append(request)
        return self._wait(request) if request.path in self.slow else self.reply(request)

    @staticmethod
    def reply(request: Request) -> Reply:
        return Reply(200, b"%s %s %d" % (request.method.encode(), request.path.encode(), request.body_size))

    async def started(self) -> None:
        await asyncio.wait_for(self.slow_started.wait(), DEADLINE)

    async def _wait(self, request: Request) -> Reply:
        self.slow_started.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return self.reply(request)


class Client:
    """One raw connection: bytes out, parsed answers in."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, *parts: bytes) -> None:
        for part in parts:  # each part its own write (TCP_NODELAY: its own segment)
            self.writer.write(part)
            await self.writer.drain()

    async def answer(self, *, head_only: bool = False) -> Answer:
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), DEADLINE)
        status_line, *lines = head[:-4].decode("latin-1").split("\r\n")
        headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
        length = 0 if head_only else int(headers.get("content-length", "0"))
        body = await asyncio.wait_for(self.reader.readexactly(length), DEADLINE)
        return Answer(int(status_line.split()[1]), headers, body, head)

    async def continue_(self) -> None:
        """The interim 100 Continue: the server is reading the body."""
        assert await asyncio.wait_for(self.reader.readexactly(len(CONTINUE)), DEADLINE) == CONTINUE

    async def closed(self) -> bool:
        """True once the server has closed the connection (EOF or reset) with nothing more sent."""
        try:
            rest = await asyncio.wait_for(self.reader.read(), DEADLINE)
        except ConnectionResetError:
            return True
        return rest == b""


class Harness:
    """Servers on port 0 and raw clients, all closed at the end of the test."""

    def __init__(self) -> None:
        self.servers: list[HttpServer] = []
        self.clients: list[Client] = []

    async def start(self, dispatch: Dispatch, max_body: int = CAP) -> tuple[HttpServer, int]:
        self.servers.append(HttpServer(dispatch, max_body=max_body))
        return self.servers[-1], await self.servers[-1].start(HOST, 0)

    async def connect(self, port: int) -> Client:
        self.clients.append(Client(*await asyncio.wait_for(asyncio.open_connection(HOST, port), DEADLINE)))
        return self.clients[-1]

    async def serve(self, recorder: Recorder | None = None, max_body: int = CAP) -> tuple[Recorder, HttpServer, Client]:
        """A Recorder served, and one connection to it."""
        recorder = recorder or Recorder()
        server, port = await self.start(recorder, max_body)
        return recorder, server, await self.connect(port)


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    harness = Harness()
    yield harness
    for client in harness.clients:
        client.writer.close()
    for server in harness.servers:
        await asyncio.wait_for(server.close(0), DEADLINE)


def get(path: str = "/", *headers: str, method: str = "GET", version: str = "1.1") -> bytes:
    return "".join([f"{method} {path} HTTP/{version}\r\nHost: t\r\n", *(h + "\r\n" for h in headers), "\r\n"]).encode()


def post(body: bytes, *headers: str, path: str = "/hook") -> bytes:
    return get(path, f"Content-Length: {len(body)}", *headers, method="POST") + body


def post_head(length: int, *headers: str, path: str = "/hook") -> bytes:
    return get(path, f"Content-Length: {length}", *headers, method="POST")


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


CHUNKED_POST = get("/hook", "Transfer-Encoding: chunked", method="POST")


# -- keep-alive -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "headers", "said"), [("1.1", [], None), ("1.0", ["Connection: keep-alive"], "keep-alive")]
)
async def test_keep_alive_serves_several_requests_on_one_connection(
    h: Harness, version: str, headers: list[str], said: str | None
) -> None:
    _, server, client = await h.serve()
    for n in range(3):  # HTTP/1.1 keeps alive without saying so; HTTP/1.0 when asked, and says so
        await client.send(get(f"/r{n}", *headers, version=version))
        answer = await client.answer()
        assert (answer.body, answer.headers.get("connection")) == (b"GET /r%d 0" % n, said)
    assert len(server.connections) == 1


@pytest.mark.parametrize("request_", [get("/", "Connection: close"), get("/", version="1.0")], ids=["close", "1.0"])
async def test_connection_close_or_http10_closes_after_the_answer(h: Harness, request_: bytes) -> None:
    _, _, client = await h.serve()
    await client.send(request_)
    answer = await client.answer()
    assert (answer.body, answer.headers["connection"]) == (b"GET / 0", "close")
    assert await client.closed()


# -- pipelining -------------------------------------------------------------------------------------


async def test_pipelined_requests_are_answered_complete_and_in_order(h: Harness) -> None:
    _, _, client = await h.serve()
    await client.send(get("/1") + post(b"abc", path="/2") + get("/3", method="HEAD") + get("/4"))
    answers = [await client.answer(head_only=n == 2) for n in range(4)]
    assert [a.body for a in answers] == [b"GET /1 0", b"POST /2 3", b"", b"GET /4 0"]
    assert answers[2].headers["content-length"] == str(len(b"HEAD /3 0"))


async def test_a_large_pipelined_batch_in_one_send_is_answered_in_order(h: Harness) -> None:
    _, _, client = await h.serve()
    count = 600  # more than fit the interpreter's recursion limit if each answer started the next one
    await client.send(b"".join(get(f"/{n}") for n in range(count)))
    bodies = [(await client.answer()).body for _ in range(count)]
    assert bodies == [b"GET /%d 0" % n for n in range(count)]


async def test_pipelined_fast_requests_wait_behind_a_slow_one(h: Harness) -> None:
    recorder, _, client = await h.serve(Recorder("/slow"))
    await client.send(get("/slow") + get("/fast1") + post(b"xy", path="/fast2"))
    await recorder.started()
    assert [r.path for r in recorder.requests] == ["/slow"]  # the others are not dispatched out of turn
    recorder.release.set()
    bodies = [(await client.answer()).body for _ in range(3)]
    assert bodies == [b"GET /slow 0", b"GET /fast1 0", b"POST /fast2 2"]


# -- bodies -----------------------------------------------------------------------------------------


GZIPPED = gzip.compress(b"hello world!")


@pytest.mark.parametrize(
    "parts",
    [
        [post_head(12), b"hello", b" ", b"world!"],
        [CHUNKED_POST, chunk(b"hello"), chunk(b" world!") + b"0\r\n\r\n"],
        [post_head(len(GZIPPED), "Content-Encoding: gzip"), GZIPPED[:10], GZIPPED[10:]],
    ],
    ids=["content-length", "chunked", "gzip"],
)
async def test_a_body_over_several_writes_arrives_whole_and_decoded(h: Harness, parts: list[bytes]) -> None:
    recorder, _, client = await h.serve()
    await client.send(*parts)
    assert (await client.answer()).body == b"POST /hook 12"
    assert recorder.requests[0].body == b"hello world!" and not recorder.requests[0].body_omitted


async def test_expect_100_continue_is_answered_before_the_body(h: Harness) -> None:
    recorder, _, client = await h.serve()
    await client.send(post_head(4, "Expect: 100-continue"))
    await client.continue_()
    assert recorder.requests == []
    await client.send(b"body")
    assert (await client.answer()).body == b"POST /hook 4"
    assert recorder.requests[0].body == b"body"


async def test_answers_still_go_out_when_the_before_send_hook_fails(h: Harness) -> None:
    def provisional(request: Request) -> Reply:
        return Reply(200, b"ok", provisional=request.path == "/provisional")

    def broken_hook() -> Reply | None:
        raise RuntimeError("a bug in the hook")

    server = HttpServer(provisional, max_body=CAP, before_send=broken_hook)
    h.servers.append(server)
    client = await h.connect(await server.start(HOST, 0))
    await client.send(get("/provisional") + get("/final"))
    first, second = await client.answer(), await client.answer()
    assert (first.status, first.headers["retry-after"]) == (503, "1")  # its condition unknown: retry later
    assert (second.status, second.body) == (200, b"ok")


# -- the body cap -----------------------------------------------------------------------------------


@pytest.mark.parametrize("expect", [False, True], ids=["body-sent", "expect-100-continue"])
async def test_declared_length_over_the_cap_is_answered_unread_then_closed(h: Harness, expect: bool) -> None:
    recorder, _, client = await h.serve()
    await client.send(post_head(CAP * 50, "Expect: 100-continue") if expect else post_head(CAP * 50) + b"x" * 100)
    answer = await client.answer()  # with Expect, no 100 Continue: the first thing back is the final answer
    assert (answer.body, answer.headers["connection"]) == (b"POST /hook %d" % (CAP * 50), "close")
    request = recorder.requests[0]
    assert (request.body_omitted, request.body_size, request.body) == (True, CAP * 50, b"")
    assert await client.closed()


async def test_the_rest_of_an_oversized_body_is_drained_after_the_answer_not_reset(h: Harness) -> None:
    # Closing at once with the body still coming would reset the connection (a reset can overtake the
    # 413 on a real network): the client must be able to finish sending, then see the end.
    _, _, client = await h.serve()
    size = 4 << 20
    await client.send(post_head(size) + b"x" * 100)
    answer = await client.answer()
    assert (answer.status, answer.headers["connection"]) == (200, "close")
    for _ in range(64):  # the whole rest, past any socket buffer: a reset would fail one of these writes
        await client.send(b"y" * ((size - 100) // 64))
    assert await client.closed()


async def test_chunked_body_over_the_cap_is_omitted_then_closed(h: Harness) -> None:
    recorder, _, client = await h.serve()
    await client.send(CHUNKED_POST, *[chunk(b"x" * 400)] * 4)
    assert (await client.answer()).status == 200
    request = recorder.requests[0]
    assert request.body_omitted and request.body_size > CAP and request.body == b""
    assert await client.closed()


@pytest.mark.parametrize("encoding", [None, "gzip"])
async def test_a_large_body_under_the_cap_arrives_whole(h: Harness, encoding: str | None) -> None:
    recorder, _, client = await h.serve(max_body=8 << 20)
    payload = b"".join(b"%08d," % n for n in range(500_000))  # 4.5 MB: the parser pauses and resumes on the way
    headers = [f"Content-Encoding: {encoding}"] if encoding else []
    await client.send(post(gzip.compress(payload) if encoding else payload, *headers) + get("/next"))
    assert (await client.answer()).body == b"POST /hook %d" % len(payload)
    assert (await client.answer()).body == b"GET /next 0"  # pipelined behind it, in what the parser held back
    assert recorder.requests[0].body == payload


async def test_a_compressed_body_is_not_inflated_in_memory_past_the_cap(h: Harness) -> None:
    recorder, _, client = await h.serve()
    packer = zlib.compressobj(wbits=31)  # gzip
    bomb = b"".join(packer.compress(bytes(1 << 20)) for _ in range(64)) + packer.flush()  # 64 MB of zeros in 64 KB
    tracemalloc.start()
    try:
        await client.send(post(bomb, "Content-Encoding: gzip"))
        answer = await client.answer()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    request = recorder.requests[0]
    assert answer.status == 200 and request.body_omitted and request.body_size > CAP
    assert peak < 8 << 20  # inflating it all would hold 64 MB


# -- HEAD, malformed input, failing dispatch ----------------------------------------------------------


async def test_head_gets_the_get_headers_and_no_body(h: Harness) -> None:
    _, port = await h.start(lambda request: Reply(200, b"0123456789", "text/plain"))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        async with session.head(f"http://{HOST}:{port}/") as head:
            assert (head.status, head.headers["Content-Length"], await head.read()) == (200, "10", b"")
        async with session.get(f"http://{HOST}:{port}/") as following:  # nothing stray left on the connection
            assert await following.read() == b"0123456789"


@pytest.mark.parametrize("first", ["/a", "/slow"])
async def test_requests_pipelined_before_a_malformed_one_are_answered_first(h: Harness, first: str) -> None:
    recorder, _, client = await h.serve(Recorder("/slow"))
    await client.send(get(first) + get("/b") + b"GET / HTTP/1.1\r\nBroken\r\n\r\n" + get("/never"))  # one send
    if first == "/slow":  # the 400 waits its turn behind a request still being answered
        await recorder.started()
        recorder.release.set()
    answers = [await client.answer() for _ in range(3)]
    expected = [(200, f"GET {first} 0".encode()), (200, b"GET /b 0"), (400, b"Bad Request")]
    assert [(a.status, a.body[: len(body)]) for a, (_, body) in zip(answers, expected, strict=True)] == expected
    assert await client.closed()
    assert [r.path for r in recorder.requests] == [first, "/b"]


@pytest.mark.parametrize(
    "parts",
    [
        [b"NOT A REQUEST\r\n\r\n"],
        [b"GET / HTTP/1.1\r\nBroken header line\r\n\r\n"],
        [post(b"this is not gzip", "Content-Encoding: gzip")],
        [CHUNKED_POST, chunk(b"abc"), b"zz\r\nbad framing\r\n"],
    ],
    ids=["request-line", "header", "bad-gzip-body", "bad-chunk-size"],
)
async def test_malformed_input_gets_400_and_close(h: Harness, parts: list[bytes]) -> None:
    recorder, _, client = await h.serve()
    await client.send(*parts)
    answer = await client.answer()  # an answer, not a connection left hanging
    assert (answer.status, answer.headers["connection"]) == (400, "close")
    assert await client.closed()
    assert recorder.requests == []


async def test_an_upgrade_request_is_answered_plainly_then_closed(h: Harness) -> None:
    recorder, _, client = await h.serve()
    await client.send(get("/ws", "Connection: Upgrade", "Upgrade: websocket") + get("/after"))
    answer = await client.answer()  # the parser reads nothing after it as HTTP: closing beats leaving it hanging
    assert (answer.body, answer.headers["connection"]) == (b"GET /ws 0", "close")
    assert await client.closed()
    assert [r.path for r in recorder.requests] == ["/ws"]


async def test_a_raising_dispatch_gets_503_with_retry_after(h: Harness) -> None:
    async def failing_later() -> Reply:
        raise RuntimeError("boom")

    def dispatch(request: Request) -> Reply | Coroutine[Any, Any, Reply]:
        if request.path == "/now":
            raise RuntimeError("boom")
        return failing_later()

    server, port = await h.start(dispatch)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        for path in ("/now", "/later", "/now"):
            async with session.post(f"http://{HOST}:{port}{path}", data=b"{}") as response:
                assert (response.status, response.headers["Retry-After"]) == (503, "1")
        assert len(server.connections) == 1  # kept alive: a failing dispatch does not cost the connection


async def test_reply_headers_with_cr_or_lf_are_not_written(h: Harness) -> None:
    evil = {
        "X-Evil": "a\r\nSet-Cookie: v=1",
        "X-Lf": "b\nSet-Cookie: l=1",
        "X-Bad\r\nSet-Cookie: n=1": "c",
        "X-Ok": "yes",
    }
    _, port = await h.start(lambda request: Reply(200, b"ok", "text/plain\r\nSet-Cookie: t=1", evil))
    client = await h.connect(port)
    await client.send(get("/1"))
    answer = await client.answer()
    assert b"Set-Cookie" not in answer.head and answer.headers["x-ok"] == "yes"
    assert not any(name.startswith("x-evil") or name.startswith("x-lf") for name in answer.headers)
    await client.send(get("/2"))  # the stream is still well-formed
    assert (await client.answer()).body == b"ok"


# -- disconnects and graceful close -------------------------------------------------------------------


async def test_client_leaving_mid_body_leaves_no_task_and_others_are_served(h: Harness) -> None:
    recorder = Recorder()
    server, port = await h.start(recorder)
    gone = await h.connect(port)
    await gone.send(post_head(500, "Expect: 100-continue"))
    await gone.continue_()  # its body is being read
    await gone.send(b"x" * 100)
    gone.writer.transport.abort()
    abrupt = await h.connect(port)  # headers and part of the body in the same breath as the reset
    await abrupt.send(post_head(500) + b"y" * 10)
    abrupt.writer.transport.abort()
    other = await h.connect(port)
    await other.send(post(b"fine"))
    assert (await other.answer()).body == b"POST /hook 4"
    await asyncio.wait_for(asyncio.gather(*server._tasks, return_exceptions=True), DEADLINE)
    assert not server._tasks
    assert [r.body for r in recorder.requests] == [b"fine"]


async def test_idle_and_stalled_mid_body_connections_are_swept(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_server, "KEEPALIVE_TIMEOUT_S", 0.2)  # the sweep's timer, not an assertion on time
    recorder = Recorder()
    server, port = await h.start(recorder)
    idle, stalled = await h.connect(port), await h.connect(port)
    await idle.send(get("/"))
    await idle.answer()
    await stalled.send(post_head(100) + b"x" * 10)  # and nothing more: it would hold a task and a socket
    assert await idle.closed() and await stalled.closed()
    await asyncio.wait_for(asyncio.gather(*server._tasks, return_exceptions=True), DEADLINE)
    assert [r.path for r in recorder.requests] == ["/"]


async def test_a_head_trickled_in_too_slowly_is_cut_but_idle_keep_alive_is_not(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_server, "KEEPALIVE_TIMEOUT_S", 3600.0)  # only the head timeout can act here
    monkeypatch.setattr(http_server, "HEADER_TIMEOUT_S", 0.2)  # the sweep's timer, not an assertion on time
    recorder = Recorder()
    _server, port = await h.start(recorder)
    kept, trickling = await h.connect(port), await h.connect(port)
    await kept.send(get("/"))
    await kept.answer()
    await trickling.send(b"POST /hook HTTP/1.1\r\nHost: x\r\n")  # a head that never ends
    assert await trickling.closed()
    await kept.send(get("/again"))  # answered on the same connection: idle is not trickling
    assert (await kept.answer()).status == 200
    assert [r.path for r in recorder.requests] == ["/", "/again"]


async def test_close_shuts_idle_connections_and_lets_in_flight_requests_finish(h: Harness) -> None:
    recorder = Recorder("/slow")
    server, port = await h.start(recorder)
    idle, busy = await h.connect(port), await h.connect(port)
    await idle.send(get("/"))
    assert (await idle.answer()).status == 200
    await busy.send(get("/slow") + get("/after"))
    await recorder.started()
    closing = asyncio.create_task(server.close(DEADLINE * 2))
    assert await idle.closed()  # at once: the close is still waiting on the slow request
    assert not closing.done()
    recorder.release.set()
    answer = await busy.answer()
    assert (answer.body, answer.headers["connection"]) == (b"GET /slow 0", "close")
    assert await busy.closed()  # the pipelined /after is not started once closing
    await asyncio.wait_for(closing, DEADLINE)
    assert [r.path for r in recorder.requests] == ["/", "/slow"]


async def test_a_body_still_arriving_at_close_is_read_and_answered(h: Harness) -> None:
    recorder = Recorder()
    server, port = await h.start(recorder)
    idle, sending = await h.connect(port), await h.connect(port)
    await idle.send(get("/"))
    await idle.answer()
    await sending.send(post_head(4, "Expect: 100-continue"))
    await sending.continue_()
    closing = asyncio.create_task(server.close(DEADLINE * 2))
    assert await idle.closed()  # the close has begun
    await sending.send(b"last")
    answer = await sending.answer()
    assert (answer.body, answer.headers["connection"]) == (b"POST /hook 4", "close")
    await asyncio.wait_for(closing, DEADLINE)


async def test_a_request_outliving_the_grace_is_cancelled_and_cut(h: Harness) -> None:
    recorder, server, client = await h.serve(Recorder("/slow"))
    await client.send(get("/slow"))
    await recorder.started()
    await asyncio.wait_for(server.close(0.05), DEADLINE)  # the grace runs out: the request is still waiting
    await asyncio.wait_for(recorder.cancelled.wait(), DEADLINE)
    assert await client.closed()  # aborted, no answer
    assert not server.connections
