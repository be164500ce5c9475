"""Listener defects found by attacking it as a hostile client would, each over a raw loopback socket."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import os
import re
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from aiohttp import web

from tests.support.listen_helpers import (
    DEADLINE,
    RawClient,
    TargetApp,
    http_request,
    listen_settings,
    port_of,
    read_line_matching,
    running_listener,
    spawn_listener,
)
from whatsable_cli.listen.forwarder import Routing
from whatsable_cli.recording.jsonl import iter_entries
from whatsable_cli.webhooks.signing import sign

BODY = b'{"event":"message_status","data":{"message_id":"wamid.d","status":"read"}}'
SECRET = "whsec_" + base64.b64encode(b"defect-suite-secret-key").decode()


def post(body: bytes, *headers: str, path: str = "/webhook") -> bytes:
    return http_request("POST", path, *headers, body=body)


def raw_post(body: bytes, *headers: bytes) -> bytes:
    """A POST to the webhook path whose header lines are sent byte for byte."""
    head = b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"".join(line + b"\r\n" for line in headers)
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


# -- header values and targets that are not UTF-8 -------------------------------------------------------------


async def test_header_values_that_are_not_utf8_are_recorded_exactly_and_answered(
    tmp_path: Path, clients: list[RawClient]
) -> None:
    settings = listen_settings(tmp_path, secret=SECRET, scheme="standard")
    async with running_listener(settings) as listener:
        client = await RawClient.connect(listener.info.port)
        clients.append(client)
        await client.send(
            raw_post(
                BODY, b"X-A: caf\xe9", b"webhook-id: msg_\xff\xfe", b"webhook-timestamp: 1", b"webhook-signature: v1,x"
            )
        )
        answer = await client.answer()
        await listener.observer.wait_until(lambda: len(listener.observer.events) == 1)
        (request,), _ = listener.recording()  # the line parses (strictly)
    assert answer.status == 200 and answer.json()["id"] == request.id
    raw = {name: value.encode("utf-8", "surrogateescape") for name, value in request.headers}
    assert (raw["X-A"], raw["webhook-id"]) == (b"caf\xe9", b"msg_\xff\xfe")
    assert request.body_bytes == BODY
    assert request.signature is not None and request.signature.result == "failed"  # verified as far as it goes
    assert listener.observer.events[0].request.id == request.id  # shown
    line = json.loads(settings.record_path.read_bytes())  # type: ignore[union-attr]
    assert ["X-A", base64.b64encode(b"caf\xe9").decode(), "base64"] in line["headers"]


def test_header_bytes_that_are_not_utf8_go_through_the_whole_command(tmp_path: Path) -> None:
    """As a subprocess: recorded, shown on stdout (JSON lines), answered 200, and a signed one verified as far
    as the signature reaches."""
    record = tmp_path / "rec.jsonl"
    proc, url = spawn_listener("--record", str(record), "--json", "--secret", SECRET, stdout=subprocess.PIPE)
    try:
        signed = [f"{name}: {value}".encode() for name, value in sign("standard", SECRET, BODY).items()]
        with socket.create_connection(("127.0.0.1", port_of(url)), timeout=DEADLINE) as sock:
            sock.sendall(raw_post(BODY, b"X-A: caf\xe9", *signed))
            assert sock.recv(4096).startswith(b"HTTP/1.1 200 ")
        assert proc.stdout is not None
        shown = json.loads(read_line_matching(proc.stdout, re.compile(r'"type":"event"')).string)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=DEADLINE)
    assert proc.returncode == 0
    assert shown["signature"]["result"] == "verified"  # X-A is not signed: the signature holds
    (request,) = list(iter_entries(record, strict=True))
    assert dict(request.headers)["X-A"].encode("utf-8", "surrogateescape") == b"caf\xe9"  # type: ignore[union-attr]


def _raw_path_request(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as sock:
        sock.sendall(
            b"POST /web\xffhook?q=\xfe HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
        )
        return sock.recv(4096)


@pytest.mark.parametrize("parser", ["c", "python"])
def test_a_request_target_that_is_not_utf8_is_refused_or_recorded_exactly(tmp_path: Path, parser: str) -> None:
    """aiohttp's C parser refuses a raw 0xFF in the target (400, as aiohttp.web answers); its pure-Python parser
    takes it, and then the target is recorded with its exact bytes. Never a 500, and the listener stays up."""
    record = tmp_path / "rec.jsonl"
    env = {"AIOHTTP_NO_EXTENSIONS": "1"} if parser == "python" else {}
    proc, url = spawn_listener("--record", str(record), "-o", "quiet", stdout=subprocess.DEVNULL, env=env)
    try:
        port = port_of(url)
        answer = _raw_path_request(port)
        with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as sock:  # still up
            sock.sendall(post(BODY))
            assert sock.recv(4096).startswith(b"HTTP/1.1 200 ")
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=DEADLINE)
    assert proc.returncode == 0 and b"Traceback" not in err
    requests = list(iter_entries(record, strict=True))
    if answer.startswith((b"HTTP/1.0 400 ", b"HTTP/1.1 400 ")):
        assert len(requests) == 1 and b"Invalid char in url path" in err  # one warning line, not a traceback
        return
    assert answer.startswith(b"HTTP/1.1 404 ")  # taken: a request to another path, recorded
    first = requests[0]
    assert (first.path.encode("utf-8", "surrogateescape"), first.query.encode("utf-8", "surrogateescape")) == (  # type: ignore[union-attr]
        b"/web\xffhook",
        b"q=\xfe",
    )
    assert b'"path_encoding":"base64"' in record.read_bytes()


# -- a client that half-closes -----------------------------------------------------------------------------


def _send_then_half_close(port: int, data: bytes) -> bytes:
    """Send, shut down the sending side (SHUT_WR), then read until the listener closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


@pytest.mark.parametrize("requests", [1, 3])
async def test_a_client_that_half_closes_after_its_requests_gets_every_answer(tmp_path: Path, requests: int) -> None:
    async with running_listener(listen_settings(tmp_path)) as listener:
        bodies = [BODY.replace(b"wamid.d", b"wamid.%d" % n) for n in range(requests)]
        received = await asyncio.to_thread(_send_then_half_close, listener.info.port, b"".join(map(post, bodies)))
        recorded, _ = listener.recording()
    assert received.count(b"HTTP/1.1 200 OK") == requests  # and the connection was closed after them
    assert [request.body_bytes for request in recorded] == bodies


async def test_a_relayed_answer_reaches_a_client_that_half_closed(tmp_path: Path) -> None:
    app = await TargetApp().start()
    try:
        routing = Routing(forward_to=(app.url(),))
        async with running_listener(listen_settings(tmp_path, routing=routing)) as listener:
            received = await asyncio.to_thread(_send_then_half_close, listener.info.port, post(BODY))
    finally:
        await app.stop()
    assert received.startswith(b"HTTP/1.1 200 OK") and received.endswith(b'{"handled":true}')


async def test_a_half_close_on_an_idle_connection_closes_it(tmp_path: Path, clients: list[RawClient]) -> None:
    async with running_listener(listen_settings(tmp_path)) as listener:
        client = await RawClient.connect(listener.info.port)
        clients.append(client)
        await client.send(post(BODY))
        assert (await client.answer()).status == 200
        client.writer.write_eof()
        assert await client.closed()


async def test_a_half_close_mid_body_is_400_or_closed_and_not_recorded(tmp_path: Path) -> None:
    # Which one depends on whether the end of input comes before or while the body is read.
    async with running_listener(listen_settings(tmp_path)) as listener:
        partial = http_request("POST", "/webhook", f"Content-Length: {len(BODY)}") + BODY[:10]
        received = await asyncio.to_thread(_send_then_half_close, listener.info.port, partial)
        assert received == b"" or (received.startswith(b"HTTP/1.1 400 ") and b"incomplete_body" in received)
        assert listener.recording()[0] == []


# -- Content-Encoding -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("coding", "sent", "decoded"),
    [
        ("gzip", gzip.compress(BODY), True),
        ("GZIP", gzip.compress(BODY), True),
        ("x-custom", BODY, False),
        ("gzip, identity", BODY, False),
    ],
)
async def test_a_body_is_flagged_decoded_and_its_coding_dropped_on_forward_only_when_it_was_decoded(
    tmp_path: Path, clients: list[RawClient], coding: str, sent: bytes, decoded: bool
) -> None:
    app = await TargetApp().start()
    try:
        routing = Routing(forward_to=(app.url(),))
        async with running_listener(listen_settings(tmp_path, routing=routing)) as listener:
            client = await RawClient.connect(listener.info.port)
            clients.append(client)
            await client.send(post(sent, f"Content-Encoding: {coding}"))
            assert (await client.answer()).status == 200
            (request,), _ = listener.recording()
    finally:
        await app.stop()
    (forwarded,) = app.received
    forwarded_coding = {name.lower(): value for name, value in forwarded.headers}.get("content-encoding")
    assert ("decoded" in request.flags) is decoded
    assert request.body_bytes == (BODY if decoded else sent)
    assert request.header("Content-Encoding") == coding  # recorded as it came, either way
    assert forwarded_coding == (None if decoded else coding)  # the coding goes with the body it describes
    assert forwarded.body == BODY


async def test_a_body_in_an_unknown_coding_is_recorded_as_it_came(tmp_path: Path, clients: list[RawClient]) -> None:
    opaque = b"\x00opaque\xff" * 3
    async with running_listener(listen_settings(tmp_path)) as listener:
        client = await RawClient.connect(listener.info.port)
        clients.append(client)
        await client.send(post(opaque, "Content-Encoding: x-custom"))
        answer = await client.answer()
        (request,), _ = listener.recording()
    assert (answer.status, answer.json()["error"]) == (400, "not_json")  # what it holds cannot be read as JSON
    assert request.body_bytes == opaque and "decoded" not in request.flags


# -- relayed answers ----------------------------------------------------------------------------------------------


class _NoContentApp:
    """A target that answers 204 or 304, with a body it should not have sent where asked to."""

    def __init__(self) -> None:
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        return web.Response(status=int(request.query.get("status", "204")), headers={"X-App": "yes"})

    async def start(self) -> _NoContentApp:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.port = self.runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.mark.parametrize("status", [204, 304])
async def test_a_relayed_answer_without_content_has_no_length_and_no_body(
    tmp_path: Path, clients: list[RawClient], status: int
) -> None:
    app = await _NoContentApp().start()
    try:
        routing = Routing(forward_to=(f"http://127.0.0.1:{app.port}/hook?status={status}",))
        async with running_listener(listen_settings(tmp_path, routing=routing)) as listener:
            client = await RawClient.connect(listener.info.port)
            clients.append(client)
            await client.send(post(BODY) + post(BODY.replace(b"read", b"sent")))
            first = await client.answer()
            second = await client.answer()  # the framing held: the next answer on the connection is whole
    finally:
        await app.stop()
    assert first.status == status and "content-length" not in first.headers and first.body == b""
    assert "content-type" not in first.headers and b"\r\n\r\nHTTP/1.1" not in first.head
    assert second.status == status


def test_the_recording_written_by_a_listener_killed_mid_run_still_parses(tmp_path: Path) -> None:
    """A listener stopped by SIGKILL leaves only whole lines behind for every acknowledged request."""
    record = tmp_path / "rec.jsonl"
    proc, url = spawn_listener("--record", str(record), "-o", "quiet", stdout=subprocess.DEVNULL)
    port = port_of(url)
    acknowledged = []
    try:
        for n in range(20):
            with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as sock:
                sock.sendall(post(BODY.replace(b"wamid.d", b"wamid.%d" % n)))
                answer = sock.recv(4096)
            assert answer.startswith(b"HTTP/1.1 200 ")
            acknowledged.append(json.loads(answer.split(b"\r\n\r\n", 1)[1])["id"])
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=DEADLINE)
    assert [request.id for request in iter_entries(record, strict=True)] == acknowledged  # type: ignore[union-attr]
