"""`verify --explain`: each construction whatsable knows is named when a captured request was made with it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest

from tests.support.helpers import run_cli
from whatsable_cli.webhooks.explain import Attempt, explain_request
from whatsable_cli.webhooks.signing import sign

BODY = b'{"last_messages":"[]","phone_number":14155552671,"incoming_message":false,"send_by":"WhatsApp App"}'
TEXT_SECRET = "test_signature_secret"
B64_SECRET = base64.b64encode(bytes(range(40, 72))).decode()  # a secret that is also base64 of a key
STD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ENCODERS = {
    "hex": bytes.hex,
    "base64": lambda mac: base64.b64encode(mac).decode(),
    "base64url unpadded": lambda mac: base64.urlsafe_b64encode(mac).decode().rstrip("="),
}


def matched(attempts: list[Attempt]) -> set[tuple[object, ...]]:
    return {(a.kind, a.algorithm, a.encoding, a.key, a.content) for a in attempts}


@pytest.mark.parametrize("algorithm", ["sha256", "sha512", "sha1"])
@pytest.mark.parametrize("encoding", list(ENCODERS))
@pytest.mark.parametrize("key_kind", ["text", "base64"])
def test_every_hmac_construction_is_named(algorithm: str, encoding: str, key_kind: str) -> None:
    key = B64_SECRET.encode() if key_kind == "text" else base64.b64decode(B64_SECRET)
    value = ENCODERS[encoding](hmac.new(key, BODY, getattr(hashlib, algorithm)).digest())
    explanation = explain_request(B64_SECRET, BODY, {"X-Webhook-Signature": value})
    assert ("hmac", algorithm, encoding, key_kind, "the raw body") in matched(explanation.matches)
    known = (algorithm, encoding, key_kind) == ("sha256", "hex", "text")
    assert {a.scheme for a in explanation.matches} == ({"whatsable-hmac"} if known else {None})


def test_the_fixed_value_is_named_with_its_scheme() -> None:
    secret = "RNEefV2V_tiDZeiOpeqMzWsR3X4zGOxIYARIF5-Ia2MXWIgT48jO-M4A1-bgr9bxdoHy5vb7azy_Vd-Gsp4qoAVhQCVyWZ"
    explanation = explain_request(secret, BODY, {"X-Webhook-Signature": secret})
    [found] = explanation.matches
    assert (found.kind, found.scheme, found.note) == ("fixed", "whatsable-static", "the secret itself")


def test_the_same_bytes_in_another_base64_alphabet_are_named() -> None:
    raw = bytes(range(200, 248))
    secret, header = base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert secret != header
    [found] = explain_request(secret, BODY, {"X-Webhook-Signature": header}).matches
    assert found.kind == "fixed" and found.note == "the secret's bytes, re-encoded" and found.scheme is None


@pytest.mark.parametrize("scheme", ["standard", "svix"])
def test_standard_webhooks_and_svix_are_named_even_when_the_capture_is_old(scheme: str) -> None:
    headers = sign(scheme, STD_SECRET, BODY, msg_id="msg_explain1", timestamp=1_000_000)  # 1970: long stale
    [found] = explain_request(STD_SECRET, BODY, headers).matches
    assert (found.kind, found.scheme, found.key) == (scheme, scheme, "whsec")
    assert found.note is not None and "outside" in found.note


def test_standard_webhooks_keyed_with_the_whsec_text_is_named() -> None:
    content = b"msg_1.1700000000." + BODY
    mac = base64.b64encode(hmac.new(STD_SECRET.encode(), content, hashlib.sha256).digest()).decode()
    headers = {"webhook-id": "msg_1", "webhook-timestamp": "1700000000", "webhook-signature": f"v1,{mac}"}
    [found] = explain_request(STD_SECRET, BODY, headers).matches
    assert (found.kind, found.key, found.scheme) == ("standard", "text", None)


def test_a_reserialised_body_and_a_github_style_prefix_are_named() -> None:
    pretty = json.dumps(json.loads(BODY), indent=2).encode()
    value = "sha256=" + hmac.new(TEXT_SECRET.encode(), pretty, hashlib.sha256).hexdigest()
    [found] = explain_request(TEXT_SECRET, BODY, {"X-Hub-Signature-256": value}).matches
    assert (found.algorithm, found.content, found.header) == (
        "sha256",
        "a re-serialised copy of the JSON",
        "X-Hub-Signature-256",
    )


def test_nothing_matches_under_another_secret_or_without_a_signature_header() -> None:
    headers = sign("whatsable-hmac", TEXT_SECRET, BODY)
    explanation = explain_request("another secret", BODY, headers)
    assert explanation.matches == [] and len(explanation.attempts) > 30
    assert explain_request(TEXT_SECRET, BODY, {"Content-Type": "application/json"}).headers == ()


def test_cli_explain_names_the_construction_and_exits_0_or_3(tmp_path: Path) -> None:
    body = tmp_path / "body.json"
    body.write_bytes(BODY)
    value = base64.urlsafe_b64encode(hmac.new(TEXT_SECRET.encode(), BODY, hashlib.sha512).digest()).decode()
    found = run_cli("verify", str(body), "-H", f"X-Webhook-Signature: {value}", "--secret", TEXT_SECRET, "--explain")
    assert found.exit_code == 0, found.stderr
    assert "HMAC-SHA512" in found.stdout and "base64url" in found.stdout
    assert "please report it" in found.stdout
    assert value not in found.stdout and TEXT_SECRET not in found.stdout
    as_json = run_cli(
        "verify", str(body), "-H", f"X-Webhook-Signature: {value}", "--secret", TEXT_SECRET, "--explain", "--json"
    )
    report = json.loads(as_json.stdout)
    assert [m["algorithm"] for m in report["matched"]] == ["sha512"] and report["tried"] > 30
    missed = run_cli("verify", str(body), "-H", "X-Webhook-Signature: abc", "--secret", TEXT_SECRET, "--explain")
    assert missed.exit_code == 3
    assert "none matched" in missed.stdout


def test_cli_verify_accepts_the_documented_value_under_auto(tmp_path: Path) -> None:
    secret = "RNEefV2V_tiDZeiOpeqMzWsR3X4zGOxIYARIF5-Ia2MXWIgT48jO"
    body = tmp_path / "body.json"
    body.write_bytes(BODY)
    run = run_cli("verify", str(body), "-H", f"X-Webhook-Signature: {secret}", "--secret", secret, "--json")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert json.loads(run.stdout)["scheme"] == "whatsable-static"
