"""Flat payloads through listen, events and replay: classified, shown, filtered and deduplicated as documented."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp

from tests.support import endpoints
from tests.support.helpers import run_cli
from tests.support.listen_helpers import fixture_bytes, listen_settings, running_listener
from whatsable_cli.webhooks.overrides import to_body
from whatsable_cli.webhooks.signing import sign

# A fixed-value secret of the form WhatsAble's page shows (171 base64url characters would do as well).
FIXED_SECRET = "RNEefV2V_tiDZeiOpeqMzWsR3X4zGOxIYARIF5-Ia2MXWIgT48jO-M4A1-bgr9bxdoHy5vb7azy"
FLAT = [
    "flat/incoming_message/text",
    "flat/incoming_message/document",
    "flat/incoming_message/ad_referral",
    "flat/incoming_message/bot_text",
    "flat/outgoing_message/whatsapp_app",
    "flat/outgoing_message/teammate",
]


async def _post_all(url: str, bodies: list[bytes], headers: dict[str, str] | None = None) -> list[int]:
    statuses = []
    async with aiohttp.ClientSession() as session:
        for body in bodies:
            async with session.post(url, data=body, headers=headers or {}) as response:
                statuses.append(response.status)
    return statuses


async def test_listen_verifies_the_documented_fixed_value_and_classifies_each_flat_example(tmp_path: Path) -> None:
    settings = listen_settings(tmp_path, secret=FIXED_SECRET, require_signature=True)
    async with running_listener(settings) as listener:
        bodies = [fixture_bytes(name) for name in FLAT]
        signed = await _post_all(listener.url, bodies, {"X-Webhook-Signature": FIXED_SECRET})
        forged = await _post_all(listener.url, bodies[:1], {"X-Webhook-Signature": FIXED_SECRET[::-1]})
        await listener.observer.wait_until(lambda: len(listener.observer.events) == len(bodies) + 1)
        requests, _ = listener.recording()
    assert signed == [200] * len(bodies) and forged == [401]
    kinds = [r.event_type for r in requests[: len(bodies)]]
    assert kinds == ["incoming_message"] * 4 + ["outgoing_message"] * 2
    checks = [r.signature for r in requests]
    assert all(c is not None and (c.result, c.scheme) == ("verified", "whatsable-static") for c in checks[:-1])
    assert checks[-1] is not None and checks[-1].reason == "mismatch"  # never "malformed"


async def test_listen_filters_outgoing_and_deduplicates_on_the_documented_key(tmp_path: Path) -> None:
    text = json.loads(fixture_bytes("flat/incoming_message/text"))
    redelivered = to_body({**text, "labels": "relabelled", "phone_number": int(text["phone_number"])})
    bodies = [
        fixture_bytes("flat/incoming_message/text"),
        redelivered,  # other bytes, same phone_number + user_last_message_time: a redelivery
        fixture_bytes("flat/outgoing_message/whatsapp_app"),
        fixture_bytes("flat/outgoing_message/teammate"),  # same phone and user time, but another message
    ]
    settings = listen_settings(tmp_path, event_filter=frozenset({"outgoing_message"}))
    async with running_listener(settings) as listener:
        assert await _post_all(listener.url, bodies) == [200] * 4
        await listener.observer.wait_until(lambda: len(listener.observer.events) == 2)
        requests, _ = listener.recording()
    assert ["duplicate" in r.flags for r in requests] == [False, True, False, False]
    assert ["filtered" in r.flags for r in requests] == [True, True, False, False]
    shown = listener.observer.events
    assert [e.parsed.kind for e in shown] == ["outgoing_message", "outgoing_message"]


def _recording(tmp_path: Path) -> Path:
    from tests.support.recordings import recorded, write_recording

    requests = [recorded(i, fixture_bytes(name)) for i, name in enumerate(FLAT)]
    return write_recording(tmp_path / "rec.jsonl", requests)


def test_events_lists_and_filters_outgoing_events_with_their_summary(tmp_path: Path) -> None:
    path = _recording(tmp_path)
    run = run_cli("events", "list", "--record", str(path), "--event", "outgoing_message", "--json")
    assert run.exit_code == 0, run.stderr
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    assert [r["event"] for r in rows] == ["outgoing_message", "outgoing_message"]
    assert rows[0]["summary"] == "→ Alex Martinez +14155552671: Hello n8n (by WhatsApp App)"
    table = run_cli("events", "list", "--record", str(path))
    assert "Maria Lopez +50655550100: Quiero información  [ad: Expo Nissan]" in table.stdout


def test_replay_sends_flat_bodies_byte_for_byte_and_filters_them(tmp_path: Path) -> None:
    path = _recording(tmp_path)
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        run = run_cli("replay", str(path), "--to", endpoint.url, "--event", "outgoing_message")
    assert run.exit_code == 0, run.stderr
    assert endpoint.received.bodies == [fixture_bytes(name) for name in FLAT[-2:]]
    lines = [line for line in run.stdout.splitlines() if line.startswith("✓")]
    assert "outgoing_message" in lines[0] and "→ Alex Martinez +14155552671: Hello n8n" in lines[0]


def test_replay_resigns_flat_bodies_with_the_fixed_value(tmp_path: Path) -> None:
    path = _recording(tmp_path)
    received: list[dict[str, Any]] = []
    with endpoints.serve(lambda r, _: endpoints.correct("whatsable-static", FIXED_SECRET, r)) as endpoint:
        run = run_cli(
            "replay",
            str(path),
            "--to",
            endpoint.url,
            "--resign",
            "--secret",
            FIXED_SECRET,
            "--scheme",
            "whatsable-static",
            "--json",
        )
        received = endpoint.received.headers
    assert run.exit_code == 0, run.stdout + run.stderr
    assert len(received) == len(FLAT)
    assert all(h.get("X-Webhook-Signature") == FIXED_SECRET for h in received)
    assert sign("whatsable-static", FIXED_SECRET, b"{}") == {"X-Webhook-Signature": FIXED_SECRET}


def test_listen_shows_an_outgoing_event_with_what_the_business_sent_and_its_chat() -> None:
    from rich.console import Console

    from tests.listen.test_listen_render import report
    from whatsable_cli.render import listen_format

    outgoing = report("flat/outgoing_message/whatsapp_app")
    line = listen_format.headline(outgoing).plain
    assert "outgoing_message" in line and "→ Alex Martinez +14155552671: Hello n8n (by WhatsApp App)" in line
    console = Console(width=120, record=True)
    console.print(listen_format.body_details(report("flat/incoming_message/text")))
    chat = [row for row in console.export_text().splitlines() if row.startswith("    ") and "(" not in row[:12]]
    said = [row for row in chat if " User " in row or " Bot  " in row]
    assert said[0].split()[1] == "Bot" and said[1].split()[1] == "User"  # oldest first, though sent newest first
