"""The bundled fixtures, the synthetic builder, --set overrides, and the small commands (secret, verify)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.helpers import run_cli
from tests.support.recordings import OLD_SECRET, recorded, signed_request, status_body, write_recording
from whatsable_cli.errors import BadInputError
from whatsable_cli.webhooks.events import CONTENT_TYPES, STATUSES, PayloadFormat, decode_last_messages, parse_body
from whatsable_cli.webhooks.fixtures import find_fixture, list_fixtures
from whatsable_cli.webhooks.overrides import apply_overrides, apply_overrides_to_body, to_body
from whatsable_cli.webhooks.signing import sign
from whatsable_cli.webhooks.synthetic import SyntheticEvents

ENVELOPE = (
    b'{"event":"message_status","data":{"message_id":"wamid.123456789","status":"delivered",'
    b'"timestamp":"2024-03-23T21:41:44.477Z"}}'
)


def test_every_variant_is_bundled_and_parses() -> None:
    envelope = {f.name for f in list_fixtures(PayloadFormat.ENVELOPE)}
    variants = {f"message_status/{s}" for s in STATUSES} | {f"incoming_message/{c}" for c in CONTENT_TYPES}
    assert envelope == variants | {"message_status/docs_example", "incoming_message/docs_example"}
    for fixture in list_fixtures(PayloadFormat.ENVELOPE):
        parsed = parse_body(fixture.read_bytes())
        assert parsed.kind == fixture.event and parsed.family is PayloadFormat.ENVELOPE
        if fixture.event == "incoming_message":
            assert isinstance(parsed.field("last_messages"), str)  # stays a JSON string
            if fixture.variant != "docs_example":
                assert decode_last_messages(parsed.data or {})[-1]["content_type"] == fixture.variant
    failed = parse_body(find_fixture("failed").read_bytes())
    assert failed.field("error")["code"]


def test_synthetic_events_are_fresh_and_seed_reproducible() -> None:
    first, second = SyntheticEvents().build("message_status"), SyntheticEvents().build("message_status")
    assert first["data"]["message_id"] != second["data"]["message_id"]
    seeded = [to_body(SyntheticEvents(seed=7).build("incoming_message", "image")) for _ in range(2)]
    assert seeded[0] == seeded[1]
    assert to_body(SyntheticEvents(seed=8).build("incoming_message", "image")) != seeded[0]


def test_synthetic_event_rejects_unknown_names_with_the_valid_list() -> None:
    with pytest.raises(BadInputError) as err:
        SyntheticEvents().build("message_status", "bounced")
    assert "delivered" in (err.value.hint or "")


def test_set_overrides_parse_json_literals() -> None:
    payload = {"event": "message_status", "data": {"status": "sent"}}
    result = apply_overrides(
        payload, ["data.status=read", "data.count=3", "data.ok=true", "data.none=null", 'data.error={"code":"1"}']
    )
    assert result["data"] == {"status": "read", "count": 3, "ok": True, "none": None, "error": {"code": "1"}}
    assert payload["data"] == {"status": "sent"}  # the original is untouched


@pytest.mark.parametrize("bad", ["data.status", "=x", "data..x=1", "event.x=1"])
def test_invalid_set_is_bad_input(bad: str) -> None:
    with pytest.raises(BadInputError):
        apply_overrides({"event": "message_status", "data": {}}, [bad])


def test_fixtures_list_json_and_show_are_exact() -> None:
    listed = run_cli("fixtures", "list", "--json")
    assert listed.exit_code == 0
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(rows) == len(list_fixtures()) and rows[0]["name"] == "message_status/sent"
    assert all(row["origin"] in ("documented", "adapted") and row["source"]["commit"] for row in rows)
    shown = run_cli("fixtures", "show", "message_status/delivered")
    assert shown.stdout.encode() == find_fixture("message_status/delivered").read_bytes()


def test_unknown_fixture_exits_7_with_valid_names() -> None:
    result = run_cli("fixtures", "show", "bounced")
    assert result.exit_code == 7
    assert "unknown fixture 'bounced'" in result.stderr
    assert "message_status/delivered" in result.stderr
    assert "Traceback" not in result.stderr


def test_secret_generate_forms() -> None:
    assert run_cli("secret", "generate", "--scheme", "standard").stdout.startswith("whsec_")
    assert len(run_cli("secret", "generate").stdout.strip()) == 64
    bad = run_cli("secret", "generate", "--scheme", "md5")
    assert bad.exit_code in (2, 7) and "whatsable-static" in bad.stderr  # the valid names, the new one among them


def test_verify_valid_and_invalid_exit_codes(tmp_path: Path) -> None:
    body = tmp_path / "body.json"
    body.write_bytes(ENVELOPE)
    header = "X-Webhook-Signature: 6ecbc27ad2de17fc5c5d9eb9e3a4759288a4915a7f88ad9fa54b3b8335903edf"
    ok = run_cli("verify", str(body), "-H", header, "--secret", "test_signature_secret")
    assert ok.exit_code == 0, ok.stderr
    assert "valid" in ok.stdout
    assert "6ecbc27ad2de17fc" not in ok.stdout  # the signature is redacted unless asked
    bad = run_cli("verify", str(body), "-H", header, "--secret", "wrong", "--json")
    assert bad.exit_code == 3
    report = json.loads(bad.stdout)
    assert report["valid"] is False and report["reason"] == "mismatch"


def test_verify_reads_stdin_and_explains_stale_timestamp() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    headers = sign("standard", secret, ENVELOPE, timestamp=1_000_000)
    args = [f"-H{name}: {value}" for name, value in headers.items()]
    result = run_cli("verify", "-", *args, "--secret", secret, input=ENVELOPE)
    assert result.exit_code == 3
    assert "stale_timestamp" in result.stdout
    assert "scheme          standard (detected" in result.stdout
    at_time = run_cli("verify", "-", *args, "--secret", secret, "--at", "1000100", input=ENVELOPE)
    assert at_time.exit_code == 0


def test_verify_bad_inputs_exit_7_and_a_bad_option_value_2(tmp_path: Path) -> None:
    assert run_cli("verify", str(tmp_path / "missing.json"), "--secret", "x").exit_code == 7
    malformed = run_cli("verify", "-", "-H", "NoColonHere", "--secret", "x", input=b"{}")
    assert malformed.exit_code == 2 and "malformed header" in malformed.stderr  # the command line is wrong
    assert run_cli("verify", "-", input=b"{}").exit_code == 7  # no secret


def test_verify_a_recorded_request_by_id_prefix(tmp_path: Path) -> None:
    body = status_body(1)
    path = write_recording(tmp_path / "rec.jsonl", [signed_request(1, body), recorded(2, status_body(2))])
    with path.open("ab") as handle:
        handle.write(b"{not json\n")  # a corrupt line is skipped, and said so
    ok = run_cli("verify", "--record", str(path), "--id", "0001", "--secret", OLD_SECRET)
    assert ok.exit_code == 0, ok.stderr
    assert "✓ valid" in ok.stdout
    assert f"{path}:3: corrupt line" in ok.stderr
    unsigned = run_cli("verify", "--record", str(path), "--id", "0002", "--secret", OLD_SECRET, "--json")
    assert unsigned.exit_code == 3 and json.loads(unsigned.stdout)["reason"] == "missing_header"
    assert run_cli("verify", "--id", "0001", "--secret", OLD_SECRET).exit_code == 7  # not in the (empty) history


def test_version_and_python_m() -> None:
    assert run_cli("--version").stdout.startswith("whatsable ")


def test_set_on_a_body_keeps_bytes_without_edits_and_writes_compact_json_with_them() -> None:
    raw = b'{ "event": "message_status",  "data": {"status": "sent"} }'
    assert apply_overrides_to_body(raw, (), "rec.jsonl:1") is raw
    edited = apply_overrides_to_body(raw, ("data.status=read",), "rec.jsonl:1")
    assert edited == b'{"event":"message_status","data":{"status":"read"}}'


@pytest.mark.parametrize(("raw", "why"), [(b"not json", "it is not JSON"), (b"[1, 2]", "it is a JSON list")])
def test_set_on_a_body_that_is_not_a_json_object_is_bad_input_naming_it(raw: bytes, why: str) -> None:
    with pytest.raises(BadInputError) as raised:
        apply_overrides_to_body(raw, ("a=1",), "rec.jsonl:3")
    assert str(raised.value) == f"rec.jsonl:3: --set needs a JSON object body, and {why}"
    assert raised.value.code == "not_json"


def test_set_on_a_json_list_body_is_exit_7_in_send_test_and_a_skip_in_replay() -> None:
    why = "--set needs a JSON object body, and it is a JSON list"
    sent = run_cli("send-test", "http://127.0.0.1:9/x", "--body-file", "-", "--set", "a=1", input=b"[1, 2]")
    assert sent.exit_code == 7 and f"error: stdin: {why}" in sent.stderr
    replayed = run_cli("replay", "-", "--to", "http://127.0.0.1:9/x", "--set", "a=1", input=b"[1, 2]")
    assert f"warning: <stdin>: {why}; skipped" in replayed.stderr
