"""The listener's HTTP behaviour over raw loopback sockets: keep-alive, pipelining, bodies, the cap, errors, stop."""

from __future__ import annotations

import asyncio
import gzip
import json
import tracemalloc
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.listen_helpers import (
    DEADLINE,
    Listener,
    RawClient,
    TargetApp,
    http_request,
    listen_settings,
    running_listener,
)
from whatsable_cli.config import SELF_TEST_HEADER
from whatsable_cli.listen import server
from whatsable_cli.listen.exchange import Incoming, Reply
from whatsable_cli.listen.forwarder import Routing
from whatsable_cli.listen.service import ListenService

CAP = 1000
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def status_body(index: int) -> bytes:
    return json.dumps({"event": "message_status", "data": {"message_id": f"wamid.{index}", "status": "sent"}}).encode()


INCOMING = json.dumps({"event": "incoming_message", "data": {"phone_number": "1", "user_timestamp": 1}}).encode()


def post(body: bytes, *headers: str, path: str = "/webhook", version: str = "1.1") -> bytes:
    return http_request("POST", path, *headers, body=body, version=version)


def post_head(length: int, *headers: str, path: str = "/webhook") -> bytes:
    return http_request("POST", path, f"Content-Length: {length}", *headers)


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


CHUNKED_POST = http_request("POST", "/webhook", "Transfer-Encoding: chunked")


@pytest.fixture
async def listener(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Listener]:
    # After an answer that leaves a body unread, the rest is waited for this long: short, so that a test
    # ending then does not wait for it.
    monkeypatch.setattr(server, "LINGER_S", 0.5)
    async with running_listener(listen_settings(tmp_path, max_body=CAP)) as running:
        yield running


async def connect(listener: Listener, clients: list[RawClient]) -> RawClient:
    clients.append(await RawClient.connect(listener.info.port))
    return clients[-1]


def recorded_bodies(listener: Listener) -> list[bytes]:
    return [request.body_bytes for request in listener.recording()[0]]


def acknowledged(answer: Any) -> str:
    payload = answer.json()
    assert payload["received"] is True
    return str(payload["id"])


# -- keep-alive -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "headers", "said"), [("1.1", [], None), ("1.0", ["Connection: keep-alive"], "keep-alive")]
)
async def test_keep_alive_serves_several_requests_on_one_connection(
    listener: Listener, clients: list[RawClient], version: str, headers: list[str], said: str | None
) -> None:
    client = await connect(listener, clients)
    for n in range(3):  # HTTP/1.1 keeps alive without saying so; HTTP/1.0 when asked, and says so
        await client.send(post(status_body(n), *headers, version=version))
        answer = await client.answer()
        assert (answer.status, answer.headers.get("connection")) == (200, said)
        acknowledged(answer)
    assert recorded_bodies(listener) == [status_body(n) for n in range(3)]


@pytest.mark.parametrize(
    "request_", [post(status_body(1), "Connection: close"), post(status_body(1), version="1.0")], ids=["close", "1.0"]
)
async def test_connection_close_or_http10_closes_after_the_answer(
    listener: Listener, clients: list[RawClient], request_: bytes
) -> None:
    client = await connect(listener, clients)
    await client.send(request_)
    answer = await client.answer()
    assert answer.status == 200 and answer.headers.get("connection", "close") == "close"  # HTTP/1.0: close unsaid
    assert await client.closed()


# -- pipelining -------------------------------------------------------------------------------------------


async def test_pipelined_requests_are_answered_complete_and_in_order(
    listener: Listener, clients: list[RawClient]
) -> None:
    client = await connect(listener, clients)
    await client.send(
        http_request("GET", "/webhook")
        + post(status_body(2))
        + http_request("HEAD", "/webhook")
        + http_request("GET", "/elsewhere")
    )
    answers = [await client.answer(head_only=n == 2) for n in range(4)]
    assert [a.status for a in answers] == [200, 200, 200, 404]
    assert answers[0].json() == {"ok": True, "webhook": True}
    acknowledged(answers[1])
    assert answers[2].body == b"" and answers[2].headers["content-length"] == str(len(answers[0].body))
    assert answers[3].json()["error"] == "not_found"


async def test_a_large_pipelined_batch_in_one_send_is_answered_and_recorded_in_order(
    listener: Listener, clients: list[RawClient]
) -> None:
    client = await connect(listener, clients)
    count = 600
    await client.send(b"".join(post(status_body(n)) for n in range(count)))
    ids = [acknowledged(await client.answer()) for _ in range(count)]
    requests, _ = listener.recording()
    assert [r.id for r in requests] == ids
    assert [r.body_bytes for r in requests] == [status_body(n) for n in range(count)]


async def test_pipelined_requests_wait_behind_a_slow_one(tmp_path: Path, clients: list[RawClient]) -> None:
    app = await TargetApp(hold=asyncio.Event()).start()
    routing = Routing(routes=(("incoming_message", app.url()),))  # relay mode: the app's answer is awaited
    try:
        async with running_listener(listen_settings(tmp_path, routing=routing)) as listener:
            client = await connect(listener, clients)
            await client.send(post(INCOMING) + post(status_body(1)) + post(status_body(2)))
            await app.wait_until(lambda: len(app.received) == 1)
            assert recorded_bodies(listener) == [INCOMING]  # the others are not taken out of turn
            assert app.hold is not None
            app.hold.set()
            answers = [await client.answer() for _ in range(3)]
            assert [a.status for a in answers] == [200, 200, 200]
            assert answers[0].json() == {"handled": True}  # the app's own answer, relayed
            assert recorded_bodies(listener) == [INCOMING, status_body(1), status_body(2)]
    finally:
        await app.stop()


# -- bodies ------------------------------------------------------------------------------------------------

PAYLOAD = status_body(7)
GZIPPED = gzip.compress(PAYLOAD)


@pytest.mark.parametrize(
    ("parts", "decoded"),
    [
        ([post_head(len(PAYLOAD)), PAYLOAD[:5], PAYLOAD[5:20], PAYLOAD[20:]], False),
        ([CHUNKED_POST, chunk(PAYLOAD[:9]), chunk(PAYLOAD[9:]) + b"0\r\n\r\n"], False),
        ([post_head(len(GZIPPED), "Content-Encoding: gzip"), GZIPPED[:10], GZIPPED[10:]], True),
    ],
    ids=["content-length", "chunked", "gzip"],
)
async def test_a_body_over_several_writes_arrives_whole_and_decoded(
    listener: Listener, clients: list[RawClient], parts: list[bytes], decoded: bool
) -> None:
    client = await connect(listener, clients)
    await client.send(*parts)
    assert (await client.answer()).status == 200
    (request,), _ = listener.recording()
    assert request.body_bytes == PAYLOAD and not request.body_omitted
    assert ("decoded" in request.flags) is decoded


async def test_expect_100_continue_is_answered_before_the_body(listener: Listener, clients: list[RawClient]) -> None:
    client = await connect(listener, clients)
    await client.send(post_head(len(PAYLOAD), "Expect: 100-continue"))
    assert await asyncio.wait_for(client.reader.readexactly(len(CONTINUE)), DEADLINE) == CONTINUE
    assert listener.recording()[0] == []
    await client.send(PAYLOAD)
    assert (await client.answer()).status == 200
    assert recorded_bodies(listener) == [PAYLOAD]


@pytest.mark.parametrize("expect", ["something-else", "100-continue, x"])
async def test_an_expectation_other_than_100_continue_is_417_and_the_body_is_not_read(
    listener: Listener, clients: list[RawClient], expect: str
) -> None:
    client = await connect(listener, clients)
    await client.send(post_head(len(PAYLOAD), f"Expect: {expect}"))
    answer = await client.answer()
    assert (answer.status, answer.json()["error"]) == (417, "expectation_failed")
    assert listener.recording()[0] == []


async def test_expect_is_ignored_in_http10(listener: Listener, clients: list[RawClient]) -> None:
    client = await connect(listener, clients)
    await client.send(post(PAYLOAD, "Expect: something-else", version="1.0"))
    assert (await client.answer()).status == 200
    assert recorded_bodies(listener) == [PAYLOAD]


# -- the body cap -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("expect", [False, True], ids=["body-sent", "expect-100-continue"])
async def test_declared_length_over_the_cap_is_413_unread_then_closed(
    tmp_path: Path, clients: list[RawClient], expect: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server, "LINGER_S", 0.2)  # how long the unsent rest is waited for (the listener reads it)
    async with running_listener(listen_settings(tmp_path, max_body=CAP)) as listener:
        client = await connect(listener, clients)
        head = post_head(CAP * 50, "Expect: 100-continue") if expect else post_head(CAP * 50) + b"x" * 100
        await client.send(head)
        answer = await client.answer()  # with Expect, no 100 Continue: the first thing back is the final answer
        assert (answer.status, answer.headers["connection"], answer.json()["error"]) == (413, "close", "too_large")
        assert await client.closed()  # the rest never comes: the listener stops waiting for it and closes
        (request,), _ = listener.recording()
    assert (request.body_omitted, request.body_size, request.body_bytes) == (True, CAP * 50, b"")
    assert "too_large" in request.flags


async def test_the_rest_of_an_oversized_body_is_drained_after_the_answer_not_reset(
    tmp_path: Path, clients: list[RawClient]
) -> None:
    # Closing at once with the body still coming would reset the connection (a reset can overtake the
    # 413 on a real network): the client must be able to finish sending, then see the end.
    async with running_listener(listen_settings(tmp_path, max_body=CAP)) as listener:
        client = await connect(listener, clients)
        size = 4 << 20
        await client.send(post_head(size) + b"x" * 100)
        answer = await client.answer()
        assert (answer.status, answer.headers["connection"]) == (413, "close")
        rest = size - 100
        for _ in range(64):  # the whole rest, past any socket buffer: a reset would fail one of these writes
            await client.send(b"y" * (rest // 64))
        await client.send(b"y" * (rest % 64))
        assert await client.closed()  # once all of it came


async def test_a_chunked_body_over_the_cap_is_read_up_to_the_cap_then_413(
    listener: Listener, clients: list[RawClient]
) -> None:
    client = await connect(listener, clients)
    await client.send(CHUNKED_POST, *[chunk(b"x" * 400)] * 4)
    answer = await client.answer()
    assert (answer.status, answer.headers["connection"]) == (413, "close")
    (request,), _ = listener.recording()
    assert request.body_omitted and request.body_size > CAP and request.body_bytes == b""


@pytest.mark.parametrize("encoding", [None, "gzip"])
async def test_a_large_body_under_the_cap_arrives_whole(
    tmp_path: Path, clients: list[RawClient], encoding: str | None
) -> None:
    payload = json.dumps({"event": "unknown", "data": [n for n in range(500_000)]}).encode()  # 3.9 MB
    headers = [f"Content-Encoding: {encoding}"] if encoding else []
    async with running_listener(listen_settings(tmp_path, max_body=8 << 20)) as listener:
        client = await connect(listener, clients)
        await client.send(post(gzip.compress(payload) if encoding else payload, *headers) + post(PAYLOAD))
        assert (await client.answer()).status == 200
        assert (await client.answer()).status == 200  # pipelined behind it
        assert recorded_bodies(listener) == [payload, PAYLOAD]


async def test_a_compressed_body_is_not_inflated_in_memory_past_the_cap(
    listener: Listener, clients: list[RawClient]
) -> None:
    client = await connect(listener, clients)
    packer = zlib.compressobj(wbits=31)  # gzip
    bomb = b"".join(packer.compress(bytes(1 << 20)) for _ in range(64)) + packer.flush()  # 64 MB of zeros in 64 KB
    tracemalloc.start()
    try:
        await client.send(post(bomb, "Content-Encoding: gzip"))
        answer = await client.answer()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    (request,), _ = listener.recording()
    assert answer.status == 413 and request.body_omitted and request.body_size > CAP
    assert peak < 8 << 20  # inflating it all would hold 64 MB


# -- HEAD, 405, malformed input, failures ---------------------------------------------------------------------


async def test_head_gets_the_get_headers_and_no_body(listener: Listener) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        async with session.head(listener.url) as head:
            assert (head.status, await head.read()) == (200, b"")
            length = head.headers["Content-Length"]
        async with session.get(listener.url) as following:  # nothing stray left on the connection
            assert len(await following.read()) == int(length)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_the_url_check_echoes_a_challenge_and_the_tunnel_self_test_nonce(
    listener: Listener, clients: list[RawClient], method: str
) -> None:
    client = await connect(listener, clients)
    await client.send(http_request(method, "/webhook?hub.challenge=1158201444"))
    challenge = await client.answer(head_only=method == "HEAD")
    await client.send(http_request(method, "/webhook", f"{SELF_TEST_HEADER}: nonce-123"))
    self_test = await client.answer(head_only=method == "HEAD")
    assert challenge.status == 200 and challenge.body == (b"1158201444" if method == "GET" else b"")
    assert self_test.headers[SELF_TEST_HEADER.lower()] == "nonce-123"
    assert listener.recording()[0] == []  # a URL check, not an event


@pytest.mark.parametrize(
    "head",
    [
        http_request("POST", "/webhook", "X-Big: " + "a" * 9000, body=PAYLOAD),
        http_request("POST", "/" + "p" * 9000, body=PAYLOAD),
        http_request("POST", "/webhook", *[f"X-{n}: {n}" for n in range(200)], body=PAYLOAD),
    ],
    ids=["long-header", "long-target", "many-headers"],
)
async def test_a_head_past_aiohttps_limits_is_refused_and_the_listener_goes_on(
    listener: Listener, clients: list[RawClient], head: bytes
) -> None:
    client = await connect(listener, clients)
    await client.send(head)
    answer = await client.answer()
    assert 400 <= answer.status < 500 and answer.status != 404
    assert await client.closed()
    other = await connect(listener, clients)
    await other.send(post(PAYLOAD))
    assert (await other.answer()).status == 200
    assert recorded_bodies(listener) == [PAYLOAD]


@pytest.mark.parametrize("method", ["PUT", "DELETE", "OPTIONS", "PATCH"])
async def test_another_method_on_the_webhook_path_is_405_with_allow(
    listener: Listener, clients: list[RawClient], method: str
) -> None:
    client = await connect(listener, clients)
    await client.send(http_request(method, "/webhook", body=PAYLOAD))
    answer = await client.answer()
    assert (answer.status, answer.headers["allow"]) == (405, "GET, HEAD, POST")
    (request,), _ = listener.recording()  # recorded all the same
    assert request.method == method and "other_method" in request.flags


async def test_requests_before_a_malformed_one_are_answered_first(listener: Listener, clients: list[RawClient]) -> None:
    client = await connect(listener, clients)
    await client.send(post(status_body(0)) + post(status_body(1)))
    first = [await client.answer() for _ in range(2)]
    await client.send(b"GET / HTTP/1.1\r\nBroken\r\n\r\n" + post(PAYLOAD))
    assert [a.status for a in first] == [200, 200]
    assert (await client.answer()).status == 400
    assert await client.closed()
    assert recorded_bodies(listener) == [status_body(0), status_body(1)]  # nothing after the malformed one


async def test_requests_in_the_same_write_as_a_malformed_one_are_answered_or_not_taken(
    listener: Listener, clients: list[RawClient]
) -> None:
    # aiohttp.web's parser gives up on the whole read when part of it is malformed: the requests before
    # the bad one in that read may go unanswered (then they are not recorded, and a sender retries them).
    client = await connect(listener, clients)
    await client.send(post(status_body(0)) + post(status_body(1)) + b"GET / HTTP/1.1\r\nBroken\r\n\r\n")
    statuses = []
    while (answer := await client.answer()).status != 400:
        statuses.append(answer.status)
    assert await client.closed()
    assert statuses in ([], [200, 200])
    assert len(recorded_bodies(listener)) == len(statuses)


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
async def test_malformed_input_gets_400_and_close(
    listener: Listener, clients: list[RawClient], parts: list[bytes]
) -> None:
    client = await connect(listener, clients)
    await client.send(*parts)
    answer = await client.answer()  # an answer, not a connection left hanging
    assert answer.status == 400
    assert await client.closed()
    assert listener.recording()[0] == []
    assert not any("Traceback" in warning for warning in listener.observer.warnings)


async def test_an_upgrade_request_is_answered_plainly_and_what_follows_still_is(
    listener: Listener, clients: list[RawClient]
) -> None:
    client = await connect(listener, clients)
    await client.send(http_request("GET", "/ws", "Connection: Upgrade", "Upgrade: websocket") + post(PAYLOAD))
    assert (await client.answer()).status == 404  # recorded as a request to another path, not switched
    assert (await client.answer()).status == 200  # aiohttp.web reads on as HTTP: the next request is served
    assert recorded_bodies(listener)[-1] == PAYLOAD


async def test_connect_is_answered_without_waiting_for_a_body_then_closed(
    listener: Listener, clients: list[RawClient]
) -> None:
    client = await connect(listener, clients)
    await client.send(http_request("CONNECT", "example.com:443"))
    assert (await client.answer()).status == 404  # not the webhook path: recorded, refused
    assert await client.closed()
    (request,), _ = listener.recording()
    assert request.method == "CONNECT" and request.body_bytes == b""


async def test_a_failing_handler_gets_503_with_retry_after_and_a_warning(
    listener: Listener, clients: list[RawClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing_later(self: ListenService, incoming: Incoming) -> Reply:
        raise RuntimeError("boom later")

    def failing_now(self: ListenService, incoming: Incoming) -> Reply:
        raise RuntimeError("boom now")

    client = await connect(listener, clients)
    for failing in (failing_now, failing_later):
        monkeypatch.setattr(ListenService, "handle", failing)
        await client.send(post(PAYLOAD))
        answer = await client.answer()
        assert (answer.status, answer.headers["retry-after"]) == (503, "1")
    monkeypatch.undo()
    await client.send(post(PAYLOAD))  # the connection was kept
    assert (await client.answer()).status == 200
    assert sum("boom" in warning and "503" in warning for warning in listener.observer.warnings) == 2


async def test_reply_headers_with_cr_or_lf_are_not_written(
    listener: Listener, clients: list[RawClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    evil = {
        "X-Evil": "a\r\nSet-Cookie: v=1",
        "X-Lf": "b\nSet-Cookie: l=1",
        "X-Bad\r\nSet-Cookie: n=1": "c",
        "X-Ok": "yes",
    }

    def evil_reply(self: ListenService, incoming: Incoming) -> Reply:
        return Reply(200, b"ok", "text/plain\r\nSet-Cookie: t=1", dict(evil))

    monkeypatch.setattr(ListenService, "handle", evil_reply)
    client = await connect(listener, clients)
    await client.send(post(PAYLOAD))
    answer = await client.answer()
    assert b"Set-Cookie" not in answer.head and answer.headers["x-ok"] == "yes"
    assert not any(name.startswith(("x-evil", "x-lf")) for name in answer.headers)
    await client.send(post(PAYLOAD))  # the stream is still well-formed
    assert (await client.answer()).body == b"ok"


# -- disconnects, timeouts and a graceful stop ------------------------------------------------------------------


async def test_a_client_leaving_mid_body_leaves_others_served(listener: Listener, clients: list[RawClient]) -> None:
    gone = await connect(listener, clients)
    await gone.send(post_head(500, "Expect: 100-continue"))
    assert await asyncio.wait_for(gone.reader.readexactly(len(CONTINUE)), DEADLINE) == CONTINUE
    await gone.send(b"x" * 100)
    gone.writer.transport.abort()
    abrupt = await connect(listener, clients)  # headers and part of the body in the same breath as the reset
    await abrupt.send(post_head(500) + b"y" * 10)
    abrupt.writer.transport.abort()
    other = await connect(listener, clients)
    await other.send(post(PAYLOAD))
    assert (await other.answer()).status == 200
    assert recorded_bodies(listener) == [PAYLOAD]


async def test_idle_and_stalled_mid_body_connections_are_closed(
    tmp_path: Path, clients: list[RawClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server, "KEEPALIVE_TIMEOUT_S", 0.3)  # the timers under test, not an assertion on time
    monkeypatch.setattr(server, "BODY_IDLE_TIMEOUT_S", 0.3)
    monkeypatch.setattr(server, "LINGER_S", 0.3)
    async with running_listener(listen_settings(tmp_path)) as listener:
        idle, stalled, trickling = [await connect(listener, clients) for _ in range(3)]
        await idle.send(post(PAYLOAD))
        assert (await idle.answer()).status == 200
        await stalled.send(post_head(100) + b"x" * 10)  # and nothing more: it would hold a socket for ever
        await trickling.send(b"POST /webhook HTTP/1.1\r\nHost: x\r\n")  # a head that never ends
        assert await idle.closed()
        assert (await stalled.answer()).status == 408
        assert await stalled.closed()
        assert await trickling.closed()
        assert recorded_bodies(listener) == [PAYLOAD]


async def test_a_stop_closes_idle_connections_and_lets_in_flight_requests_finish(
    tmp_path: Path, clients: list[RawClient]
) -> None:
    app = await TargetApp(hold=asyncio.Event()).start()
    routing = Routing(routes=(("incoming_message", app.url()),))
    try:
        async with running_listener(listen_settings(tmp_path, routing=routing, shutdown_grace=DEADLINE)) as listener:
            idle, busy = await connect(listener, clients), await connect(listener, clients)
            await idle.send(post(PAYLOAD))
            assert (await idle.answer()).status == 200
            await busy.send(post(INCOMING) + post(status_body(9)))
            await app.wait_until(lambda: len(app.received) == 1)
            listener.stop.set()
            assert await idle.closed()  # at once: the stop is still waiting on the held request
            assert listener.task is not None and not listener.task.done()
            assert app.hold is not None
            app.hold.set()
            assert (await busy.answer()).status == 200
            assert await busy.closed()  # the pipelined request behind it is not started once stopping
            await asyncio.wait_for(asyncio.shield(listener.task), DEADLINE)
            assert recorded_bodies(listener) == [PAYLOAD, INCOMING]
    finally:
        await app.stop()


async def test_a_body_still_arriving_at_a_stop_is_read_and_answered(tmp_path: Path, clients: list[RawClient]) -> None:
    async with running_listener(listen_settings(tmp_path, shutdown_grace=DEADLINE)) as listener:
        sending = await connect(listener, clients)
        await sending.send(post_head(len(PAYLOAD), "Expect: 100-continue"))
        assert await asyncio.wait_for(sending.reader.readexactly(len(CONTINUE)), DEADLINE) == CONTINUE
        listener.stop.set()
        await sending.send(PAYLOAD)
        assert (await sending.answer()).status == 200
        assert await sending.closed()
        assert listener.task is not None
        await asyncio.wait_for(asyncio.shield(listener.task), DEADLINE)
        assert recorded_bodies(listener) == [PAYLOAD]


async def test_a_request_outliving_the_grace_is_cut(tmp_path: Path, clients: list[RawClient]) -> None:
    app = await TargetApp(hold=asyncio.Event()).start()
    routing = Routing(routes=(("incoming_message", app.url()),))
    try:
        async with running_listener(listen_settings(tmp_path, routing=routing, shutdown_grace=0.1)) as listener:
            client = await connect(listener, clients)
            await client.send(post(INCOMING))
            await app.wait_until(lambda: len(app.received) == 1)
            listener.stop.set()
            assert listener.task is not None
            await asyncio.wait_for(asyncio.shield(listener.task), DEADLINE)  # the grace ran out: stopped all the same
            assert await client.closed()  # cut, no answer
            assert recorded_bodies(listener) == [INCOMING]  # recorded before forwarding: kept
    finally:
        assert app.hold is not None
        app.hold.set()  # the app's own handler may finish now
        await app.stop()
