"""Both WhatsAble payload families: fixtures with their sources, classification, summaries, keys, synthetic events."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.helpers import run_cli
from whatsable_cli.errors import BadInputError
from whatsable_cli.webhooks.events import (
    KIND_OUTGOING,
    PayloadFormat,
    decode_last_messages,
    parse_body,
)
from whatsable_cli.webhooks.fixtures import find_fixture, list_fixtures, recording_assumptions
from whatsable_cli.webhooks.overrides import to_body
from whatsable_cli.webhooks.summary import summarize
from whatsable_cli.webhooks.synthetic import (
    GAP_SECONDS,
    PARAGRAPH_SEPARATOR,
    SEEDED_EPOCH,
    VARIANTS,
    SyntheticEvents,
    paragraph_clock,
    variants_for,
)

FLAT, ENVELOPE = PayloadFormat.FLAT, PayloadFormat.ENVELOPE
# Every example WhatsAble's pages show, as the fixture that holds it byte for byte.
DOCUMENTED = {
    "message_status/docs_example": "Message Status Events",
    "incoming_message/docs_example": "Incoming Message Events",
    "flat/incoming_message/text": "Incoming Text Message",
    "flat/incoming_message/document": "Incoming Media Message",
    "flat/outgoing_message/whatsapp_app": "Outgoing — typed in WhatsApp Business app",
    "flat/outgoing_message/teammate": "Outgoing — teammate in Notifyer chat",
    "flat/incoming_message/ad_referral": "Incoming — Click-to-WhatsApp ad",
    "flat/incoming_message/bot_text": "Text Message",
    "flat/incoming_message/bot_document": "Media Message (Document)",
    "flat/outgoing_message/whatsapp_app_excerpt": "Sample payload",
    "flat/incoming_message/ad_referral_excerpt": "Sample payload (WhatsAble flattened shape)",
}


# -- fixtures and where they come from -----------------------------------------------------------------------
def test_every_documented_example_is_a_fixture_with_its_page_and_commit() -> None:
    for name, example in DOCUMENTED.items():
        source = find_fixture(name).source
        assert source is not None, name
        assert (source.origin, source.example) == ("documented", example)
        assert re.fullmatch(r"[0-9a-f]{40}", source.page.commit)
        assert source.page.path.endswith((".mdx", ".json"))
        assert source.page.url.startswith("https://")
        assert source.assumptions == ()  # a documented example assumes nothing


def test_every_fixture_has_a_source_and_every_adapted_one_says_what_it_assumes() -> None:
    fixtures = list_fixtures()
    assert len({f.name for f in fixtures}) == len(fixtures)
    for fixture in fixtures:
        source = fixture.source
        assert source is not None, f"{fixture.name} is missing from fixtures/sources.toml"
        if source.origin == "adapted":
            assert source.assumptions, fixture.name
        parsed = parse_body(fixture.read_bytes())
        assert parsed.kind == fixture.event and parsed.family is fixture.format, fixture.name
    assert any("User-Agent" in a for a in recording_assumptions()["recordings/sample"])


def test_the_silent_points_are_labelled_as_assumptions() -> None:
    def assumed(name: str) -> str:
        source = find_fixture(name).source
        assert source is not None
        return " ".join(source.assumptions)

    assert "WebSocket API" in assumed("message_status/failed")  # the error object
    assert "[Video]" in assumed("incoming_message/video")
    assert "Location: lat,long" in assumed("incoming_message/location")
    assert "' ; '" in assumed("incoming_message/text")  # the envelope's paragraph separator


def test_flat_fixtures_follow_the_documented_field_rules() -> None:
    text = find_fixture("flat/incoming_message/text").load()
    assert isinstance(text["last_messages"], list) and isinstance(text["phone_number"], str)
    app = find_fixture("flat/outgoing_message/whatsapp_app").load()
    assert isinstance(app["last_messages"], str) and isinstance(app["phone_number"], int)  # both as documented
    assert (app["incoming_message"], app["send_by"], app["was_message_by_human"]) == (False, "WhatsApp App", True)
    for field in ("user_last_message_time", "bot_last_message_time", "note", "note_automation", "labels"):
        assert field in app
    assert find_fixture("flat/incoming_message/ad_referral").load()["referral"]["ctwa_clid"]
    automation = find_fixture("automation", FLAT).load()
    assert (automation["send_by"], automation["was_message_by_human"]) == ("n8n", False)


def test_names_resolve_within_a_family() -> None:
    assert find_fixture("image").name == "incoming_message/image"  # the envelope unless told otherwise
    assert find_fixture("image", FLAT).name == "flat/incoming_message/image"
    assert find_fixture("outgoing_message", FLAT).name == "flat/outgoing_message/whatsapp_app"
    assert find_fixture("incoming_message/text", FLAT).name == "flat/incoming_message/text"
    with pytest.raises(BadInputError) as ambiguous:
        find_fixture("docs_example")
    assert "message_status/docs_example" in (ambiguous.value.hint or "")


def test_fixtures_cli_lists_and_shows_sources() -> None:
    flat = [json.loads(line) for line in run_cli("fixtures", "list", "--format", "flat", "--json").stdout.splitlines()]
    assert flat and all(row["format"] == "flat" for row in flat)
    row = next(r for r in flat if r["name"] == "flat/outgoing_message/teammate")
    assert row["source"]["path"] == "guides/notifyer-system/api/incoming-message.mdx"
    assert row["summary"] == "→ Alex Martinez +14155552671: Hi, I can help with that. (by Axel Meta)"
    shown = json.loads(run_cli("fixtures", "show", "teammate", "--format", "flat", "--json").stdout)
    assert shown["payload"] == find_fixture("flat/outgoing_message/teammate").load()
    assert shown["source"]["commit"] == row["source"]["commit"] and shown["notes"]
    table = run_cli("fixtures", "list")
    assert "flat/incoming_message/ad_referral" in table.stdout and "documented" in table.stdout
    exact = run_cli("fixtures", "show", "flat/incoming_message/ad_referral")
    assert exact.stdout.encode() == find_fixture("flat/incoming_message/ad_referral").read_bytes()


# -- classification, summary and the duplicate key ---------------------------------------------------------------
def test_an_outgoing_flat_event_is_outgoing_and_summarised_as_what_the_business_sent() -> None:
    parsed = parse_body(find_fixture("flat/outgoing_message/whatsapp_app").read_bytes())
    assert parsed.kind == KIND_OUTGOING and parsed.flat
    assert summarize(parsed) == "→ Alex Martinez +14155552671: Hello n8n (by WhatsApp App)"
    incoming = parse_body(find_fixture("flat/incoming_message/ad_referral").read_bytes())
    assert summarize(incoming) == "Maria Lopez +50655550100: Quiero información  [ad: Expo Nissan]"
    bot = parse_body(find_fixture("flat/incoming_message/bot_text").read_bytes())
    assert bot.kind == "incoming_message"  # the Bot page's examples carry no incoming_message field


def test_flat_duplicate_key_is_phone_and_message_time_whatever_the_phone_type() -> None:
    payload = find_fixture("flat/incoming_message/text").load()
    as_number = {**payload, "phone_number": int(payload["phone_number"]), "labels": "changed"}
    first, second = parse_body(to_body(payload)), parse_body(to_body(as_number))
    assert first.dedupe_key == second.dedupe_key == "in:14155552671:1749506891"
    app = parse_body(find_fixture("flat/outgoing_message/whatsapp_app").read_bytes())
    teammate = parse_body(find_fixture("flat/outgoing_message/teammate").read_bytes())
    # the two documented outgoing examples share phone and user time: two messages, not one redelivered
    assert app.field("user_last_message_time") == teammate.field("user_last_message_time")
    assert app.dedupe_key != teammate.dedupe_key
    assert parse_body(find_fixture("incoming_message/text").read_bytes()).dedupe_key is None  # not documented


@pytest.mark.parametrize(
    "body",
    [b'{"phone_number": "1"}', b'{"note": "x"}', b'{"status": "ok"}', b"[]"],
)
def test_unrelated_json_is_not_taken_for_a_flat_event(body: bytes) -> None:
    assert parse_body(body).kind == "unknown"


# -- synthetic events ---------------------------------------------------------------------------------------------
def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _check_consistent(payload: dict, family: PayloadFormat, event: str, now: float) -> None:
    parsed = parse_body(to_body(payload))
    assert parsed.kind == event and parsed.family is family
    if event == "message_status":
        assert abs(_seconds(payload["data"]["timestamp"]) - now) < 0.001
        return
    data = payload["data"] if family is ENVELOPE else payload
    messages = decode_last_messages(data)
    times = [_seconds(m["timestamp"]) for m in messages]
    assert times == sorted(times, reverse=family is FLAT)  # newest first on the flat pages
    assert abs(max(times) - now) < 0.001 and now - min(times) <= GAP_SECONDS[1]  # one clock
    paragraph = data["conversation_paragraph"].split(PARAGRAPH_SEPARATOR)
    assert len(paragraph) == len(messages)
    for line, message, when in zip(paragraph, messages, times, strict=True):
        who = "User" if message["type"] == "user" else "Bot"
        assert line.startswith(f"{who} ({paragraph_clock(when)}): ")
        if message.get("media_url"):
            assert f"/vault/{data['user_id'][:8]}/" in message["media_url"]
    keys = (
        ("user_timestamp", "bot_timestamp")
        if family is ENVELOPE
        else ("user_last_message_time", "bot_last_message_time")
    )
    for role, key in zip(("user", "bot"), keys, strict=True):
        own = [t for m, t in zip(messages, times, strict=True) if m["type"] == role]
        assert data[key] == (int(max(own)) if own else 0)
    newest = messages[0] if family is FLAT else messages[-1]
    assert data["attachment_url"] == newest.get("media_url")
    assert data["message_type"] == newest["content_type"]


ALL_VARIANTS = [(f, e, v) for f, events in VARIANTS.items() for e, variants in events.items() for v in variants]


@settings(max_examples=40, deadline=None)
@given(now=st.floats(min_value=1.6e9, max_value=2.0e9))
def test_synthetic_events_take_every_time_from_one_clock_reading(now: float) -> None:
    now = round(now, 3)
    for family, event, variant in ALL_VARIANTS:
        payload = SyntheticEvents(clock=lambda: now, payload_format=family).build(event, variant)
        _check_consistent(payload, family, event, now)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_seeded_synthetic_events_are_consistent_and_reproducible(seed: int) -> None:
    for family, event, variant in ALL_VARIANTS:
        first, again = SyntheticEvents(seed, payload_format=family), SyntheticEvents(seed, payload_format=family)
        payload = first.build(event, variant)
        _check_consistent(payload, family, event, SEEDED_EPOCH + 1)  # a seeded run's first reading
        assert to_body(payload) == to_body(again.build(event, variant))


def test_synthetic_flat_events_keep_the_documented_types() -> None:
    events = SyntheticEvents(seed=1, payload_format=FLAT)
    incoming, outgoing = events.build("incoming_message"), events.build(KIND_OUTGOING, "teammate")
    assert isinstance(incoming["last_messages"], list) and isinstance(incoming["phone_number"], str)
    assert isinstance(outgoing["last_messages"], str) and isinstance(outgoing["phone_number"], int)
    assert outgoing["send_by"] == "Axel Meta" and outgoing["incoming_message"] is False
    first = events.build("incoming_message", "ad_referral")
    assert first["bot_last_message_time"] == 0 and "referral" in first


def test_each_family_refuses_what_it_does_not_have() -> None:
    with pytest.raises(BadInputError) as no_status:
        SyntheticEvents(payload_format=FLAT).build("message_status")
    assert "envelope" in no_status.value.message
    with pytest.raises(BadInputError) as no_outgoing:
        SyntheticEvents().build(KIND_OUTGOING)
    assert "--format flat" in (no_outgoing.value.hint or "")
    with pytest.raises(BadInputError):
        variants_for(ENVELOPE, content_type="ad_referral")
    assert variants_for(FLAT, content_type="ad_referral") == [("incoming_message", "ad_referral")]


def test_send_test_format_flat_sends_flat_events(tmp_path: Path) -> None:
    dry = run_cli("send-test", "http://127.0.0.1:9/hook", "--format", "flat", "--all-variants", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.stderr
    requests = [r for r in json.loads(dry.stdout)["requests"] if r["group"] == "delivery"]
    labels = [r["request"] for r in requests]
    assert labels[0] == "flat/incoming_message/text" and "flat/outgoing_message/automation" in labels
    kinds = {parse_body(r["body"].encode()).kind for r in requests}
    assert kinds == {"incoming_message", KIND_OUTGOING}
    refused = run_cli("send-test", "http://127.0.0.1:9/hook", "--format", "flat", "--status", "read", "--dry-run")
    assert refused.exit_code == 7 and "no flat form" in refused.stderr
    fixture = run_cli(
        "send-test", "http://127.0.0.1:9/hook", "--format", "flat", "--fixture", "teammate", "--dry-run", "--json"
    )
    body = json.loads(fixture.stdout)["requests"][0]["body"]
    assert body.encode() == find_fixture("flat/outgoing_message/teammate").read_bytes()
