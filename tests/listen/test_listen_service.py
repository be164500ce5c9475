"""The listener in-process on port 0, driven by plain aiohttp/httpx clients and by our own signing."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest

from tests.support.listen_helpers import fixture_bytes, listen_settings, running_listener
from whatsable_cli.errors import BadInputError
from whatsable_cli.listen.model import HEALTH_PATH, ListenSettings
from whatsable_cli.webhooks.signing import generate_secret, sign

SECRET = "test_signature_secret"
VECTOR_BODY = (
    b'{"event":"message_status","data":{"message_id":"wamid.123456789","status":"delivered",'
    b'"timestamp":"2024-03-23T21:41:44.477Z"}}'
)
VECTOR_SIGNATURE = "6ecbc27ad2de17fc5c5d9eb9e3a4759288a4915a7f88ad9fa54b3b8335903edf"


def settings(tmp_path: Path, **overrides: Any) -> ListenSettings:
    return listen_settings(tmp_path, **{"secret": SECRET, **overrides})


async def test_signed_event_is_recorded_verified_and_acknowledged(tmp_path: Path) -> None:
    async with running_listener(settings(tmp_path)) as listener, httpx.AsyncClient() as client:
        response = await client.post(
            listener.url, content=VECTOR_BODY, headers={"X-Webhook-Signature": VECTOR_SIGNATURE}
        )
        assert response.status_code == 200
        request_id = response.json()["id"]
        requests, _ = listener.recording()
    assert [r.id for r in requests] == [request_id]
    recorded = requests[0]
    assert recorded.body_bytes == VECTOR_BODY
    assert recorded.event_type == "message_status"
    assert recorded.signature is not None and recorded.signature.result == "verified"
    assert recorded.signature.scheme == "whatsable-hmac"  # auto names the construction that verified
    assert recorded.header("X-Webhook-Signature") == VECTOR_SIGNATURE
    assert os.stat(listener.settings.record_path or "").st_mode & 0o777 == 0o600


async def test_standard_scheme_signed_by_our_signing_verifies(tmp_path: Path) -> None:
    secret = generate_secret("standard")
    body = fixture_bytes("incoming_message/text")
    async with running_listener(settings(tmp_path, secret=secret, scheme="standard")) as listener:
        async with aiohttp.ClientSession() as session:
            good = await session.post(listener.url, data=body, headers=sign("standard", secret, body))
            tampered = await session.post(listener.url, data=body + b" ", headers=sign("standard", secret, body))
            unsigned = await session.post(listener.url, data=body)
        assert (good.status, tampered.status, unsigned.status) == (200, 200, 200)
        results = [e.request.signature.result for e in listener.observer.events if e.request.signature]
    assert results == ["verified", "failed", "unsigned"]
    assert listener.observer.events[1].request.signature.reason == "mismatch"  # type: ignore[union-attr]


async def test_require_signature_answers_401_but_still_records(tmp_path: Path) -> None:
    async with running_listener(settings(tmp_path, require_signature=True)) as listener:
        async with aiohttp.ClientSession() as session:
            unsigned = await session.post(listener.url, data=VECTOR_BODY)
            wrong = await session.post(listener.url, data=VECTOR_BODY, headers={"X-Webhook-Signature": "0" * 64})
            good = await session.post(listener.url, data=VECTOR_BODY, headers={"X-Webhook-Signature": VECTOR_SIGNATURE})
        assert (unsigned.status, wrong.status, good.status) == (401, 401, 200)
        requests, _ = listener.recording()
    assert [r.flags for r in requests] == [["rejected"], ["rejected", "duplicate"], ["duplicate"]]
    assert [r.response_status for r in requests] == [401, 401, 200]


async def test_url_checks_health_and_other_paths(tmp_path: Path) -> None:
    async with running_listener(settings(tmp_path)) as listener, aiohttp.ClientSession() as session:
        async with session.get(listener.url) as get:
            assert get.status == 200
        async with session.head(listener.url) as head:
            assert head.status == 200
        async with session.get(listener.url, params={"hub.challenge": "1158201444"}) as challenge:
            assert await challenge.text() == "1158201444"
        async with session.get(listener.base(HEALTH_PATH)) as health:
            assert health.status == 200
            assert (await health.json())["ok"] is True
        async with session.post(listener.base("/wrong"), data=VECTOR_BODY) as stray:
            assert stray.status == 404
            assert (await stray.json())["webhook_path"] == "/webhook"
        async with session.put(listener.url, data=VECTOR_BODY) as put:
            assert put.status == 405
        requests, _ = listener.recording()
    assert [(r.method, r.path, r.flags) for r in requests] == [
        ("POST", "/wrong", ["other_path"]),
        ("PUT", "/webhook", ["other_method"]),
    ]


async def test_bad_bodies_are_recorded_and_answered_with_their_status(tmp_path: Path) -> None:
    limit = 1000
    async with running_listener(settings(tmp_path, max_body=limit)) as listener:
        async with aiohttp.ClientSession() as session:
            not_json = await session.post(listener.url, data=b"\xff\xfe not json")
            big = await session.post(listener.url, data=b"x" * (limit + 1))

            async def chunks() -> object:
                for _ in range(5):
                    yield b"y" * 500

            chunked = await session.post(listener.url, data=chunks())
            unknown = await session.post(listener.url, data=b'{"event":"contact_updated","data":{}}')
        assert (not_json.status, big.status, chunked.status, unknown.status) == (400, 413, 413, 200)
        requests, _ = listener.recording()
    raw, too_big, too_big_chunked, odd = requests
    assert raw.body_bytes == b"\xff\xfe not json" and raw.body_encoding == "base64"
    assert raw.event_type == "not_json" and raw.response_status == 400
    assert too_big.body == "" and too_big.body_omitted and too_big.body_size == limit + 1
    assert too_big.flags == ["too_large"] and too_big.response_status == 413
    assert too_big_chunked.body_omitted
    assert odd.event_type == "unknown"
    assert listener.observer.events[-1].parsed.raw_event == "contact_updated"


async def test_duplicates_by_message_id_and_status_or_same_body(tmp_path: Path) -> None:
    first = b'{"event":"message_status","data":{"message_id":"wamid.1","status":"read"}}'
    same_key = b'{"event":"message_status","data":{"status":"read","message_id":"wamid.1"}}'
    other = b'{"event":"message_status","data":{"message_id":"wamid.1","status":"delivered"}}'
    async with running_listener(settings(tmp_path)) as listener, aiohttp.ClientSession() as session:
        for body in (first, same_key, other, other):
            async with session.post(listener.url, data=body) as response:
                assert response.status == 200
        await listener.observer.wait_until(lambda: len(listener.observer.events) == 4)
        flags = [e.duplicate for e in listener.observer.events]
    assert flags == [False, True, False, True]
    assert listener.observer.summary is not None and listener.observer.summary.duplicates == 2


async def test_recorded_lines_equal_acknowledged_requests_under_concurrency(tmp_path: Path) -> None:
    total = 300
    async with running_listener(settings(tmp_path)) as listener:
        connector = aiohttp.TCPConnector(limit=32)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def send(i: int) -> str | None:
                body = b'{"event":"message_status","data":{"message_id":"wamid.%d","status":"sent"}}' % i
                async with session.post(listener.url, data=body) as response:
                    return str((await response.json())["id"]) if response.status == 200 else None

            acknowledged = [rid for rid in await asyncio.gather(*(send(i) for i in range(total))) if rid]
        requests, _ = listener.recording()
    assert len(acknowledged) == total
    assert sorted(r.id for r in requests) == sorted(acknowledged)
    assert len({r.body for r in requests}) == total


async def test_event_filter_hides_and_skips_but_records(tmp_path: Path) -> None:
    filtered = settings(tmp_path, event_filter=frozenset({"incoming_message"}))
    async with running_listener(filtered) as listener, aiohttp.ClientSession() as session:
        for name in ("message_status/read", "incoming_message/text"):
            async with session.post(listener.url, data=fixture_bytes(name)) as response:
                assert response.status == 200
        requests, _ = listener.recording()
        await listener.observer.wait_until(lambda: len(listener.observer.events) == 1)
    assert [r.event_type for r in requests] == ["message_status", "incoming_message"]
    assert requests[0].flags == ["filtered"]
    assert [e.parsed.kind for e in listener.observer.events] == ["incoming_message"]


async def test_no_record_writes_nothing(tmp_path: Path) -> None:
    async with (
        running_listener(settings(tmp_path, record_path=None)) as listener,
        aiohttp.ClientSession() as session,
        session.post(listener.url, data=VECTOR_BODY) as response,
    ):
        assert response.status == 200
    assert not list(tmp_path.glob("*.jsonl"))


async def test_port_in_use_is_bad_input(tmp_path: Path) -> None:
    async with running_listener(settings(tmp_path)) as first:
        with pytest.raises(BadInputError) as caught:
            async with running_listener(settings(tmp_path / "b", port=first.info.port)):
                pass
    assert caught.value.code == "port_in_use"
    assert "--port 0" in (caught.value.hint or "")


async def test_our_own_bug_is_never_a_500_and_the_request_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_triage(*_: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("whatsable_cli.listen.service.triage", broken_triage)
    async with running_listener(settings(tmp_path)) as listener, httpx.AsyncClient() as client:
        response = await client.post(listener.url, content=VECTOR_BODY)
        requests, _ = listener.recording()
    assert response.status_code == 200
    assert requests[0].body_bytes == VECTOR_BODY and requests[0].flags == ["internal_error"]
    assert any("recorded raw" in w for w in listener.observer.warnings)


async def test_our_own_bug_still_fails_closed_when_a_signature_is_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_triage(*_: object) -> None:
        raise RecursionError("a body nested too deep for the parser")

    monkeypatch.setattr("whatsable_cli.listen.service.triage", broken_triage)
    async with running_listener(settings(tmp_path, require_signature=True)) as listener, httpx.AsyncClient() as client:
        forged = await client.post(listener.url, content=VECTOR_BODY, headers=sign("whatsable", "guess", VECTOR_BODY))
        signed = await client.post(listener.url, content=VECTOR_BODY, headers=sign("whatsable", SECRET, VECTOR_BODY))
        elsewhere = await client.post(listener.base("/other"), content=VECTOR_BODY)
        requests, _ = listener.recording()
    assert (forged.status_code, forged.json()["error"]) == (401, "signature_required")
    assert (signed.status_code, elsewhere.status_code) == (200, 404)
    assert [r.flags for r in requests] == [
        ["internal_error", "rejected"],
        ["internal_error"],
        ["other_path", "internal_error"],
    ]
    assert [r.signature.result if r.signature else None for r in requests] == ["failed", "verified", "unsigned"]


async def test_a_recording_that_cannot_be_written_answers_503_so_the_sender_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    async with running_listener(settings(tmp_path)) as listener, httpx.AsyncClient() as client:
        monkeypatch.setattr("whatsable_cli.recording.jsonl.RecordingWriter.append", disk_full)
        failed = await client.post(listener.url, content=VECTOR_BODY)
        monkeypatch.undo()
        recovered = await client.post(listener.url, content=VECTOR_BODY)
    assert failed.status_code == 503 and failed.headers["Retry-After"] == "1"
    assert recovered.status_code == 200
    warnings = listener.observer.warnings
    assert any("No space left on device" in w for w in warnings) and any("works again" in w for w in warnings)
    assert listener.observer.summary is not None and listener.observer.summary.record_failures == 1
