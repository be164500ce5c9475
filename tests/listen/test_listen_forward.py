"""Forwarding through a real listener to real aiohttp target apps: bytes, headers, routes, fan-out, down targets."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.listen_helpers import TargetApp, fixture_bytes, free_port, listen_settings, running_listener
from whatsable_cli.listen.forwarder import RetryPolicy, Routing
from whatsable_cli.listen.model import RESPOND_200, RESPOND_RELAY, ListenSettings


def settings(tmp_path: Path, routing: Routing, **overrides: Any) -> ListenSettings:
    return listen_settings(tmp_path, routing=routing, **overrides)


async def test_forwarded_body_is_byte_identical_with_original_headers(tmp_path: Path) -> None:
    target = await TargetApp(status=202, answer=b'{"queued":1}').start()
    body = fixture_bytes("incoming_message/image")  # pretty-printed JSON: re-serialising would change it
    try:
        async with running_listener(settings(tmp_path, Routing((target.url(),)))) as listener:
            async with aiohttp.ClientSession() as session:
                headers = {"X-Webhook-Signature": "abc", "X-Custom": "1", "X-Forwarded-For": "203.0.113.7"}
                async with session.post(listener.url, data=body, headers=headers) as response:
                    assert response.status == 202  # relay: the app's status and body
                    assert await response.read() == b'{"queued":1}'
            requests, forwards = listener.recording()
    finally:
        await target.stop()
    received = target.received[0]
    sent = dict(received.headers)
    assert received.body == body
    assert sent["X-Webhook-Signature"] == "abc" and sent["X-Custom"] == "1"
    assert sent["Host"] == f"127.0.0.1:{target.port}"
    assert sent["X-Forwarded-For"] == "203.0.113.7, 127.0.0.1"
    assert sent["X-Forwarded-Proto"] == "http"
    assert "Accept-Encoding" not in sent  # the app answers uncompressed: its answer is relayed and shown as is
    assert [f.request_id for f in forwards] == [requests[0].id]
    assert forwards[0].result.status == 202 and forwards[0].result.url == target.url()


async def test_fan_out_and_routes(tmp_path: Path) -> None:
    default_a, default_b, incoming = [await TargetApp().start() for _ in range(3)]
    routing = Routing(
        forward_to=(default_a.url(), default_b.url()),
        routes=(("incoming_message", incoming.url("/in")),),
    )
    try:
        async with running_listener(settings(tmp_path, routing)) as listener:
            async with aiohttp.ClientSession() as session:
                for name in ("message_status/read", "incoming_message/text"):
                    async with session.post(listener.url, data=fixture_bytes(name)) as response:
                        assert response.status == 200
            _, forwards = listener.recording()
    finally:
        for target in (default_a, default_b, incoming):
            await target.stop()
    assert [r.body for r in default_a.received] == [fixture_bytes("message_status/read")]
    assert [r.body for r in default_b.received] == [fixture_bytes("message_status/read")]
    assert [(r.path, r.body) for r in incoming.received] == [("/in", fixture_bytes("incoming_message/text"))]
    assert len(forwards) == 3


async def test_relay_returns_the_target_status_and_502_when_it_is_down(tmp_path: Path) -> None:
    failing = await TargetApp(status=500, answer=b"boom").start()
    down_url = f"http://127.0.0.1:{free_port()}/webhook"
    try:
        async with (
            running_listener(settings(tmp_path, Routing((failing.url(),)))) as listener,
            aiohttp.ClientSession() as session,
            session.post(listener.url, data=b"{}") as response,
        ):
            assert response.status == 500
            assert await response.read() == b"boom"
        async with running_listener(settings(tmp_path / "down", Routing((down_url,)))) as listener:
            async with aiohttp.ClientSession() as session, session.post(listener.url, data=b"{}") as response:
                assert response.status == 502
            requests, forwards = listener.recording()
            warnings = list(listener.observer.warnings)
    finally:
        await failing.stop()
    assert len(requests) == 1  # still recorded
    assert forwards[0].result.error_code == "refused"
    assert any("is down" in w for w in warnings)


async def test_down_target_with_respond_200_gets_queued_events_in_order(tmp_path: Path) -> None:
    port = free_port()
    target = TargetApp()
    routing = Routing((f"http://127.0.0.1:{port}/webhook",))
    quick_retry = RetryPolicy(initial=0.01, maximum=0.05)
    bodies = [b'{"event":"message_status","data":{"message_id":"m%d","status":"read"}}' % i for i in range(6)]
    async with running_listener(settings(tmp_path, routing, respond=RESPOND_200, retry=quick_retry)) as listener:
        observer = listener.observer
        async with aiohttp.ClientSession() as session:
            for body in bodies:
                async with session.post(listener.url, data=body) as response:
                    assert response.status == 200  # answered at once, though the app is down
            await observer.wait_until(lambda: len(observer.events) == len(bodies))
            assert any("is down" in w for w in observer.warnings)
            await target.start(port)
            try:
                await target.wait_until(lambda: len(target.received) == len(bodies))
                await observer.wait_until(lambda: any("answering again" in w for w in observer.warnings))
            finally:
                await target.stop()
        _, forwards = listener.recording()
    assert [r.body for r in target.received] == bodies
    redelivered = [f for f in forwards if f.result.status == 200]
    # the first event was tried once before the target was known to be down; the rest waited in the queue
    assert [f.attempt for f in redelivered] == [2, 1, 1, 1, 1, 1]
    assert observer.summary is not None and observer.summary.redelivered == len(bodies)
    assert observer.summary.still_queued == {}


async def test_queued_events_left_at_stop_are_reported(tmp_path: Path) -> None:
    down_url = f"http://127.0.0.1:{free_port()}/webhook"
    routing = Routing((down_url,))
    async with running_listener(
        settings(tmp_path, routing, respond=RESPOND_200, retry=RetryPolicy(initial=30), shutdown_grace=0.5)
    ) as listener:
        async with aiohttp.ClientSession() as session:
            for _ in range(3):
                async with session.post(listener.url, data=b'{"event":"x"}') as response:
                    assert response.status == 200
        await listener.observer.wait_until(lambda: len(listener.observer.events) == 3)
    assert listener.observer.summary is not None
    assert listener.observer.summary.still_queued == {down_url: 3}


@pytest.mark.parametrize("respond", [RESPOND_200, RESPOND_RELAY])
async def test_a_forward_unanswered_at_stop_is_recorded_as_cancelled(tmp_path: Path, respond: str) -> None:
    release = asyncio.Event()
    held = await TargetApp(hold=release).start()  # the app sits on a breakpoint past the shutdown grace
    try:
        routing = Routing((held.url(),))
        async with (
            running_listener(settings(tmp_path, routing, respond=respond, shutdown_grace=0.2)) as listener,
            aiohttp.ClientSession() as session,
        ):
            posted = asyncio.ensure_future(session.post(listener.url + "?k=1", data=b'{"event":"x"}'))
            await held.wait_until(lambda: len(held.received) == 1)
        with contextlib.suppress(aiohttp.ClientError):  # relay: the sender's request ends with the listener
            (await posted).release()
        requests, forwards = listener.recording()
    finally:
        release.set()
        await held.stop()
    [forward] = forwards
    assert forward.request_id == requests[0].id and forward.attempt == 1
    assert forward.result.url == held.url() + "?k=1" and forward.result.status is None
    assert (forward.result.error, forward.result.error_code) == ("cancelled at shutdown", "cancelled")
    summary = listener.observer.summary
    assert summary is not None
    assert (summary.forwards_cancelled, summary.forwards_failed, summary.record_failures) == (1, 0, 0)
    assert listener.observer.warnings == []  # not mistaken for a target that went down


async def test_unknown_events_are_forwarded(tmp_path: Path) -> None:
    target = await TargetApp().start()
    body = b'{"event":"contact_updated","data":{"id":1}}'
    try:
        async with (
            running_listener(settings(tmp_path, Routing((target.url(),)))) as listener,
            aiohttp.ClientSession() as session,
            session.post(listener.url, data=body) as response,
        ):
            assert response.status == 200
    finally:
        await target.stop()
    assert [r.body for r in target.received] == [body]


async def test_a_compressed_body_is_forwarded_decoded_without_its_encoding_header(tmp_path: Path) -> None:
    target = await TargetApp().start()
    body = fixture_bytes("message_status/read")
    try:
        async with (
            running_listener(settings(tmp_path, Routing((target.url(),)))) as listener,
            aiohttp.ClientSession() as session,
            session.post(listener.url, data=gzip.compress(body), headers={"Content-Encoding": "gzip"}) as response,
        ):
            assert response.status == 200
            requests, _ = listener.recording()
    finally:
        await target.stop()
    assert target.received[0].body == body
    assert "Content-Encoding" not in dict(target.received[0].headers)
    assert requests[0].body_bytes == body and requests[0].flags == ["decoded"]


async def test_an_event_is_reported_before_a_slow_app_answers(tmp_path: Path) -> None:
    release = asyncio.Event()
    paused = await TargetApp(status=204, hold=release).start()  # the developer's app sits on a breakpoint
    try:
        async with (
            running_listener(settings(tmp_path, Routing((paused.url(),)))) as listener,
            aiohttp.ClientSession() as session,
        ):
            observer = listener.observer
            answer = asyncio.ensure_future(session.post(listener.url, data=fixture_bytes("message_status/read")))
            await observer.wait_until(lambda: len(observer.received_reports) == 1)
            assert observer.events == [] and not answer.done()
            release.set()
            async with await answer as response:
                assert response.status == 204
            await observer.wait_until(lambda: len(observer.events) == 1)
    finally:
        release.set()
        await paused.stop()
    assert observer.events[0].forwards[0].status == 204


async def test_relay_answers_as_soon_as_the_first_target_does(tmp_path: Path) -> None:
    primary = await TargetApp(status=201).start()
    release = asyncio.Event()
    slow = await TargetApp(status=200, hold=release).start()
    try:
        routing = Routing((primary.url(), slow.url()))
        async with running_listener(settings(tmp_path, routing)) as listener, aiohttp.ClientSession() as session:
            async with session.post(listener.url, data=b"{}") as response:
                assert response.status == 201  # the secondary target is still busy
            assert listener.observer.events == []
            release.set()
            await listener.observer.wait_until(lambda: len(listener.observer.events) == 1)
            _, forwards = listener.recording()
    finally:
        release.set()
        await primary.stop()
        await slow.stop()
    assert [f.result.status for f in forwards] == [201, 200]
    assert [f.status for f in listener.observer.events[0].forwards] == [201, 200]


async def test_relay_answers_504_when_the_target_is_too_slow(tmp_path: Path) -> None:
    release = asyncio.Event()
    stalled = await TargetApp(hold=release).start()
    try:
        async with (
            running_listener(settings(tmp_path, Routing((stalled.url(),)), forward_timeout=0.2)) as listener,
            aiohttp.ClientSession() as session,
            session.post(listener.url, data=b"{}") as response,
        ):
            assert response.status == 504
            _, forwards = listener.recording()
    finally:
        release.set()
        await stalled.stop()
    assert forwards[0].result.error_code == "timeout"


async def test_query_string_host_and_extra_headers_are_carried(tmp_path: Path) -> None:
    target = await TargetApp().start()
    extra = (("Authorization", "Bearer dev"), ("X-Env", "local"))
    try:
        async with (
            running_listener(settings(tmp_path, Routing((target.url(),)), extra_headers=extra)) as listener,
            aiohttp.ClientSession() as session,
            session.post(listener.url + "?token=abc", data=b"{}", headers={"Authorization": "Basic old"}) as response,
        ):
            assert response.status == 200
            _, forwards = listener.recording()
    finally:
        await target.stop()
    sent = target.received[0].headers
    assert ("Authorization", "Bearer dev") in sent and ("Authorization", "Basic old") not in sent
    assert ("X-Env", "local") in sent
    assert dict(sent)["X-Forwarded-Host"] == f"127.0.0.1:{listener.info.port}"
    assert forwards[0].result.url == target.url() + "?token=abc"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a certificate")
async def test_skip_verify_accepts_a_self_signed_https_app(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    make_cert = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    subprocess.run(
        [*make_cert, "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost"],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    target = await TargetApp().start(ssl_context=context)
    statuses = []
    try:
        for verify in (True, False):
            routing = Routing((target.url(),))
            async with (
                running_listener(settings(tmp_path / str(verify), routing, verify_tls=verify)) as listener,
                aiohttp.ClientSession() as session,
                session.post(listener.url, data=b"{}") as response,
            ):
                statuses.append(response.status)
    finally:
        await target.stop()
    assert statuses == [502, 200]  # refused as untrusted, then accepted with --skip-verify
    assert len(target.received) == 1
