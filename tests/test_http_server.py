"""The lean HTTP/1.1 server over real loopback sockets: keep-alive, pipelining, bodies, the cap, errors, stop."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from whatsable_cli.http_server import HttpServer, Reply, Request

HOST = "127.0.0.1"
DEADLINE = 5.0  # a hang fails the test instead of stalling the suite
CAP = 1000
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"

Start = Callable[..., Awaitable[tuple[HttpServer, int]]]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    head: bytes


class Recorder:
    """A fast dispatch: answers at once with what it saw; `slow` paths answer once `release` is set."""

    def __init__(self, slow: frozenset[str] = frozenset()) -> None:
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

    async def _wait(self, request: Request) -> Reply:
        self.slow_started.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return self.reply(request)


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    servers: list[HttpServer] = []

    async def start_server(dispatch: Any, max_body: int = CAP) -> tuple[HttpServer, int]:
        server = HttpServer(dispatch, max_body=max_body)
        servers.append(server)
        return server, await server.start(HOST, 0)

    yield start_server
    for server in servers:
        await asyncio.wait_for(server.close(0), DEADLINE)


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

    async def closed(self) -> bool:
        """True once the server has closed the connection (EOF or reset) with nothing more sent."""
        try:
            rest = await asyncio.wait_for(self.reader.read(), DEADLINE)
        except ConnectionResetError:
            return True
        return rest == b""


@pytest.fixture
async def connect() -> AsyncIterator[Callable[[int], Awaitable[Client]]]:
    clients: list[Client] = []

    async def open_client(port: int) -> Client:
        clients.append(Client(*await asyncio.wait_for(asyncio.open_connection(HOST, port), DEADLINE)))
        return clients[-1]

    yield open_client
    for client in clients:
        client.writer.close()


def get(path: str = "/", *headers: str, method: str = "GET", version: str = "1.1") -> bytes:
    return "".join([f"{method} {path} HTTP/{version}\r\nHost: t\r\n", *(h + "\r\n" for h in headers), "\r\n"]).encode()


def post(body: bytes, *headers: str, path: str = "/hook") -> bytes:
    return get(path, f"Content-Length: {len(body)}", *headers, method="POST") + body


def post_head(length: int, *headers: str, path: str = "/hook") -> bytes:
    return get(path, f"Content-Length: {length}", *headers, method="POST")


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


# -- keep-alive -------------------------------------------------------------------------------------


async def test_keep_alive_serves_several_requests_on_one_connection(start: Start, connect: Any) -> None:
    server, port = await start(Recorder())
    client = await connect(port)
    for n in range(3):
        await client.send(get(f"/r{n}"))
        answer = await client.answer()
        assert (answer.status, answer.body) == (200, b"GET /r%d 0" % n)
        assert "connection" not in answer.headers  # HTTP/1.1 keeps alive without saying so
    assert len(server.connections) == 1


async def test_aiohttp_client_reuses_one_connection(start: Start) -> None:
    server, port = await start(Recorder())
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        for n in range(3):
            async with session.post(f"http://{HOST}:{port}/p{n}", data=b"x" * n) as response:
                assert (response.status, await response.read()) == (200, b"POST /p%d %d" % (n, n))
        assert len(server.connections) == 1


async def test_connection_close_closes_after_the_answer(start: Start, connect: Any) -> None:
    _, port = await start(Recorder())
    client = await connect(port)
    await client.send(get("/", "Connection: close"))
    answer = await client.answer()
    assert (answer.status, answer.headers["connection"]) == (200, "close")
    assert await client.closed()


async def test_http10_closes_unless_asked_to_keep_alive(start: Start, connect: Any) -> None:
    _, port = await start(Recorder())
    plain = await connect(port)
    await plain.send(get("/", version="1.0"))
    assert (await plain.answer()).status == 200
    assert await plain.closed()
    kept = await connect(port)
    for path in ("/a", "/b"):
        await kept.send(get(path, "Connection: keep-alive", version="1.0"))
        answer = await kept.answer()
        assert (answer.body, answer.headers["connection"]) == (f"GET {path} 0".encode(), "keep-alive")


# -- pipelining -------------------------------------------------------------------------------------


async def test_pipelined_requests_are_answered_complete_and_in_order(start: Start, connect: Any) -> None:
    _, port = await start(Recorder())
    client = await connect(port)
    await client.send(get("/1") + post(b"abc", path="/2") + get("/3", method="HEAD") + get("/4"))
    answers = [await client.answer(head_only=n == 2) for n in range(4)]
    assert [a.body for a in answers] == [b"GET /1 0", b"POST /2 3", b"", b"GET /4 0"]
    assert answers[2].headers["content-length"] == str(len(b"HEAD /3 0"))


async def test_a_large_pipelined_batch_in_one_send_is_answered_in_order(start: Start, connect: Any) -> None:
    _, port = await start(Recorder())
    client = await connect(port)
    count = 600  # more than fit the interpreter's recursion limit if each answer started the next one
    await client.send(b"".join(get(f"/{n}") for n in range(count)))
    bodies = [(await client.answer()).body for _ in range(count)]
    assert bodies == [b"GET /%d 0" % n for n in range(count)]


async def test_pipelined_fast_requests_wait_behind_a_slow_one(start: Start, connect: Any) -> None:
    recorder = Recorder(slow=frozenset({"/slow"}))
    _, port = await start(recorder)
    client = await connect(port)
    await client.send(get("/slow") + get("/fast1") + post(b"xy", path="/fast2"))
    await asyncio.wait_for(recorder.slow_started.wait(), DEADLINE)
    assert [r.path for r in recorder.requests] == ["/slow"]  # the others are not dispatched out of turn
    recorder.release.set()
    bodies = [(await client.answer()).body for _ in range(3)]
    assert bodies == [b"GET /slow 0", b"GET /fast1 0", b"POST /fast2 2"]


# -- bodies -----------------------------------------------------------------------------------------


async def test_content_length_body_split_over_several_writes(start: Start, connect: Any) -> None:
    recorder = Recorder()
    _, port = await start(recorder)
    client = await connect(port)
    await client.send(post_head(12), b"hello", b" ", b"world!")
    assert (await client.answer()).body == b"POST /hook 12"
    assert recorder.requests[0].body == b"hello world!" and not recorder.requests[0].body_omitted


async def test_chunked_body_is_assembled(start: Start, connect: Any) -> None:
    recorder = Recorder()
    _, port = await start(recorder)
    client = await connect(port)
    await client.send(
        get("/hook", "Transfer-Encoding: chunked", method="POST"), chunk(b"abc"), chunk(b"de") + b"0\r\n\r\n"
    )
    assert (await client.answer()).body == b"POST /hook 5"
    assert recorder.requests[0].body == b"abcde"


async def test_expect_100_continue_is_answered_before_the_body(start: Start, connect: Any) -> None:
    recorder = Recorder()
    _, port = await start(recorder)
    client = await connect(port)
    await client.send(post_head(4, "Expect: 100-continue"))
    assert await asyncio.wait_for(client.reader.readexactly(len(CONTINUE)), DEADLINE) == CONTINUE
    assert recorder.requests == []
    await client.send(b"body")
    assert (await client.answer()).body == b"POST /hook 4"
    assert recorder.requests[0].body == b"body"


async def test_gzip_body_arrives_decoded(start: Start, connect: Any) -> None:
    recorder = Recorder()
    _, port = await start(recorder)
    client = await connect(port)
    await client.send(post(gzip.compress(b'{"event":"x"}' * 10), "Content-Encoding: gzip"))
    assert (await client.answer()).status == 200
    assert recorder.requests[0].body == b'{"event":"x"}' * 10


# -- the body cap -----------------------------------------------------------------------------------


async def test_declared_length_over_the_cap_is_answered_unread_then_closed(start: Start, connect: Any) -> None:
    recorder = Recorder()
    _, port = await start(recorder)
    client = await connect(port)
    await client.send(post_head(CAP * 50), b"x" * 100)
    assert (await client.answer()).body == b"POST /hook %d" % (CAP * 50)
    request = recorder.requests[0]
    assert (request.body_omitted, request.body_size, request.body) == (True, CAP * 50, b"")
    assert await client.closed()


async def test_chunked_body_over_the_cap_is_omitted_then_closed(start: Start, connect: Any) -> None:
    recorder = Recorder()
    _, port = await start(recorder)
    client = await connect(port)
    await client.send(get("/hook", "Transfer-Encoding: chunked", method="POST"), *[chunk(b"x" * 400)] * 4)
    assert (await client.answer()).status == 200
    request = recorder.requests[0]
    assert request.body_omitted and request.body_size > CAP and request.body == b""
    assert await client.closed()


async def test_no_100_continue_for_an_oversized_declared_length(start: Start, connect: Any) -> None:
    recorder = Recorder()
    _, port = await start(recorder)
    client = await connect(port)
    await client.send(post_head(CAP + 1, "Expect: 100-continue"))
    answer = await client.answer()  # the first thing back is the final answer
    assert (answer.status, answer.headers["connection"]) == (200, "close")
    assert recorder.requests[0].body_omitted and recorder.requests[0].body_size == CAP + 1
    assert await client.closed()


# -- HEAD, malformed input, failing dispatch ----------------------------------------------------------


async def test_head_gets_the_get_headers_and_no_body(start: Start) -> None:
    _, port = await start(lambda request: Reply(200, b"0123456789", "text/plain"))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        async with session.head(f"http://{HOST}:{port}/") as head:
            assert (head.status, head.headers["Content-Length"], await head.read()) == (200, "10", b"")
        async with session.get(f"http://{HOST}:{port}/") as following:  # nothing stray left on the connection
            assert await following.read() == b"0123456789"


@pytest.mark.parametrize("bad", [b"NOT A REQUEST\r\n\r\n", b"GET / HTTP/1.1\r\nBroken header line\r\n\r\n"])
async def test_malformed_request_gets_400_and_close(start: Start, connect: Any, bad: bytes) -> None:
    recorder = Recorder()
    _, port = await start(recorder)
    client = await connect(port)
    await client.send(bad)
    answer = await client.answer()
    assert (answer.status, answer.headers["connection"]) == (400, "close")
    assert await client.closed()
    assert recorder.requests == []


@pytest.mark.parametrize("first", ["/a", "/slow"])
async def test_requests_pipelined_before_a_malformed_one_are_answered_first(
    start: Start, connect: Any, first: str
) -> None:
    recorder = Recorder(slow=frozenset({"/slow"}))
    _, port = await start(recorder)
    client = await connect(port)
    await client.send(get(first) + get("/b") + b"GET / HTTP/1.1\r\nBroken\r\n\r\n" + get("/never"))  # one send
    if first == "/slow":  # the 400 waits its turn behind a request still being answered
        await asyncio.wait_for(recorder.slow_started.wait(), DEADLINE)
        recorder.release.set()
    answers = [await client.answer() for _ in range(3)]
    expected = [(200, f"GET {first} 0".encode()), (200, b"GET /b 0"), (400, b"Bad Request")]
    assert [(a.status, a.body[: len(body)]) for a, (_, body) in zip(answers, expected, strict=True)] == expected
    assert await client.closed()
    assert [r.path for r in recorder.requests] == [first, "/b"]


async def test_a_raising_dispatch_gets_503_with_retry_after(start: Start) -> None:
    async def failing_later() -> Reply:
        raise RuntimeError("boom")

    def dispatch(request: Request) -> Reply | Coroutine[Any, Any, Reply]:
        if request.path == "/now":
            raise RuntimeError("boom")
        return failing_later()

    _, port = await start(dispatch)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        for path in ("/now", "/later", "/now"):
            async with session.post(f"http://{HOST}:{port}{path}", data=b"{}") as response:
                assert (response.status, response.headers["Retry-After"]) == (503, "1")


async def test_reply_headers_with_cr_or_lf_are_not_written(start: Start, connect: Any) -> None:
    evil = {
        "X-Evil": "a\r\nSet-Cookie: v=1",
        "X-Lf": "b\nSet-Cookie: l=1",
        "X-Bad\r\nSet-Cookie: n=1": "c",
        "X-Ok": "yes",
    }
    _, port = await start(lambda request: Reply(200, b"ok", "text/plain\r\nSet-Cookie: t=1", evil))
    client = await connect(port)
    await client.send(get("/1"))
    answer = await client.answer()
    assert b"Set-Cookie" not in answer.head and answer.headers["x-ok"] == "yes"
    assert not any(name.startswith("x-evil") or name.startswith("x-lf") for name in answer.headers)
    await client.send(get("/2"))  # the stream is still well-formed
    assert (await client.answer()).body == b"ok"


# -- disconnects and graceful close -------------------------------------------------------------------


async def test_client_leaving_mid_body_leaves_no_task_and_others_are_served(start: Start, connect: Any) -> None:
    recorder = Recorder()
    server, port = await start(recorder)
    gone = await connect(port)
    await gone.send(post_head(500, "Expect: 100-continue"))
    assert await asyncio.wait_for(gone.reader.readexactly(len(CONTINUE)), DEADLINE) == CONTINUE  # body being read
    await gone.send(b"x" * 100)
    gone.writer.transport.abort()
    abrupt = await connect(port)  # headers and part of the body in the same breath as the reset
    await abrupt.send(post_head(500) + b"y" * 10)
    abrupt.writer.transport.abort()
    other = await connect(port)
    await other.send(post(b"fine"))
    assert (await other.answer()).body == b"POST /hook 4"
    await asyncio.wait_for(asyncio.gather(*server._tasks, return_exceptions=True), DEADLINE)
    assert not server._tasks
    assert [r.body for r in recorder.requests] == [b"fine"]


async def test_close_shuts_idle_connections_and_lets_in_flight_requests_finish(start: Start, connect: Any) -> None:
    recorder = Recorder(slow=frozenset({"/slow"}))
    server, port = await start(recorder)
    idle, busy = await connect(port), await connect(port)
    await idle.send(get("/"))
    assert (await idle.answer()).status == 200
    await busy.send(get("/slow") + get("/after"))
    await asyncio.wait_for(recorder.slow_started.wait(), DEADLINE)
    closing = asyncio.create_task(server.close(DEADLINE * 2))
    assert await idle.closed()  # at once: the close is still waiting on the slow request
    assert not closing.done()
    recorder.release.set()
    answer = await busy.answer()
    assert (answer.body, answer.headers["connection"]) == (b"GET /slow 0", "close")
    assert await busy.closed()  # the pipelined /after is not started once closing
    await asyncio.wait_for(closing, DEADLINE)
    assert [r.path for r in recorder.requests] == ["/", "/slow"]


async def test_a_body_still_arriving_at_close_is_read_and_answered(start: Start, connect: Any) -> None:
    recorder = Recorder()
    server, port = await start(recorder)
    idle, sending = await connect(port), await connect(port)
    await idle.send(get("/"))
    await idle.answer()
    await sending.send(post_head(4, "Expect: 100-continue"))
    assert await asyncio.wait_for(sending.reader.readexactly(len(CONTINUE)), DEADLINE) == CONTINUE
    closing = asyncio.create_task(server.close(DEADLINE * 2))
    assert await idle.closed()  # the close has begun
    await sending.send(b"last")
    answer = await sending.answer()
    assert (answer.body, answer.headers["connection"]) == (b"POST /hook 4", "close")
    await asyncio.wait_for(closing, DEADLINE)


async def test_a_request_outliving_the_grace_is_cancelled_and_cut(start: Start, connect: Any) -> None:
    recorder = Recorder(slow=frozenset({"/slow"}))
    server, port = await start(recorder)
    client = await connect(port)
    await client.send(get("/slow"))
    await asyncio.wait_for(recorder.slow_started.wait(), DEADLINE)
    await asyncio.wait_for(server.close(0.05), DEADLINE)  # the grace runs out: the request is still waiting
    await asyncio.wait_for(recorder.cancelled.wait(), DEADLINE)
    assert await client.closed()  # aborted, no answer
    assert not server.connections
