"""Interop with code nobody here wrote: the standardwebhooks and svix libraries verify what send-test and replay
sign, and sign what listen and verify must accept."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from standardwebhooks.webhooks import Webhook as StandardWebhook

from tests.support import endpoints
from tests.support.helpers import run_cli
from tests.support.listen_helpers import fixture_bytes, listen_settings, running_listener
from tests.support.recordings import recorded, write_recording

svix_webhooks = pytest.importorskip("svix.webhooks")

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
Verifier = Callable[[bytes, dict[str, str]], None]  # raises when the request does not verify


def _standard(body: bytes, headers: dict[str, str]) -> None:
    StandardWebhook(SECRET).verify(body, headers)


def _svix(body: bytes, headers: dict[str, str]) -> None:
    svix_webhooks.Webhook(SECRET).verify(body, headers)


VERIFIERS: dict[str, Verifier] = {"standard": _standard, "svix": _svix}


def library_endpoint(verifier: Verifier) -> Callable[[endpoints.Received, Any], endpoints.Handler]:
    """A receiver that trusts only the library: 401 for anything it refuses, 2xx otherwise (duplicates too)."""

    def make(received: endpoints.Received, _: Any) -> endpoints.Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            body = await request.read()
            received.bodies.append(body)
            received.headers.append(dict(request.headers))
            try:
                verifier(body, {k.lower(): v for k, v in request.headers.items()})
            except Exception as exc:  # each library raises its own verification error
                return web.json_response({"error": type(exc).__name__}, status=401)
            return web.json_response({"ok": True})

        return handler

    return make


@pytest.mark.parametrize("scheme", ["standard", "svix"])
@pytest.mark.parametrize("payload_format", ["envelope", "flat"])
def test_the_library_verifies_what_send_test_signs(scheme: str, payload_format: str) -> None:
    with endpoints.serve(library_endpoint(VERIFIERS[scheme])) as endpoint:
        run = run_cli(
            "send-test",
            endpoint.url,
            "--secret",
            SECRET,
            "--scheme",
            scheme,
            "--format",
            payload_format,
            "--all-variants",
            "--json",
        )
    report = json.loads(run.stdout)
    assert run.exit_code == 0, run.stdout
    deliveries = [o for o in report["checks"] if o["group"] == "delivery"]
    assert deliveries and all(o["verdict"] == "pass" for o in deliveries)
    forged = [o for o in report["checks"] if o["group"] == "security" and o["verdict"] != "skipped"]
    assert forged and all(o["verdict"] == "pass" for o in forged)  # the library refused every forgery


@pytest.mark.parametrize("scheme", ["standard", "svix"])
def test_the_library_verifies_what_replay_resigns(scheme: str, tmp_path: Path) -> None:
    names = ["message_status/read", "flat/incoming_message/ad_referral", "flat/outgoing_message/teammate"]
    path = write_recording(tmp_path / "rec.jsonl", [recorded(i, fixture_bytes(n)) for i, n in enumerate(names)])
    with endpoints.serve(library_endpoint(VERIFIERS[scheme])) as endpoint:
        run = run_cli("replay", str(path), "--to", endpoint.url, "--resign", "--secret", SECRET, "--scheme", scheme)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert endpoint.received.bodies == [fixture_bytes(n) for n in names]


def _library_headers(scheme: str, body: bytes, msg_id: str, when: datetime) -> dict[str, str]:
    if scheme == "standard":
        signature = StandardWebhook(SECRET).sign(msg_id, when, body.decode())
        return {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())), "webhook-signature": signature}
    signature = svix_webhooks.Webhook(SECRET).sign(msg_id, when, body.decode())
    return {"svix-id": msg_id, "svix-timestamp": str(int(when.timestamp())), "svix-signature": signature}


@pytest.mark.parametrize("scheme", ["standard", "svix"])
async def test_listen_accepts_what_the_library_signs(scheme: str, tmp_path: Path) -> None:
    body = fixture_bytes("flat/outgoing_message/whatsapp_app")
    now = datetime.fromtimestamp(int(time.time()), UTC)
    settings = listen_settings(tmp_path, secret=SECRET, require_signature=True)
    async with running_listener(settings) as listener, aiohttp.ClientSession() as session:
        good = await session.post(listener.url, data=body, headers=_library_headers(scheme, body, "msg_lib1", now))
        bad = await session.post(
            listener.url, data=body + b" ", headers=_library_headers(scheme, body, "msg_lib2", now)
        )
        assert (good.status, bad.status) == (200, 401)
        requests, _ = listener.recording()
    check = requests[0].signature
    assert check is not None and (check.result, check.scheme) == ("verified", scheme)
    assert requests[0].event_type == "outgoing_message"


@pytest.mark.parametrize("scheme", ["standard", "svix"])
def test_verify_accepts_what_the_library_signs(scheme: str, tmp_path: Path) -> None:
    body = fixture_bytes("flat/incoming_message/text")
    path = tmp_path / "body.json"
    path.write_bytes(body)
    when = datetime.fromtimestamp(1_749_506_891, UTC)  # a capture from the past: verified --at its time
    headers = [f"-H{k}: {v}" for k, v in _library_headers(scheme, body, "msg_lib3", when).items()]
    run = run_cli("verify", str(path), *headers, "--secret", SECRET, "--at", "1749506900", "--json")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert json.loads(run.stdout)["scheme"] == scheme
    explained = run_cli("verify", str(path), *headers, "--secret", SECRET, "--explain", "--json")
    assert [m["scheme"] for m in json.loads(explained.stdout)["matched"]] == [scheme]
