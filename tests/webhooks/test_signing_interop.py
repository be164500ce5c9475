"""Standard Webhooks interoperability: what we sign the reference library verifies, and the other way round."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from whatsable_cli.webhooks.signing import sign, verify

BODY = b'{"event":"message_status","data":{"message_id":"wamid.1","status":"read"}}'


def _key_text(size: int, padded: bool) -> str:
    encoded = base64.b64encode(bytes(range(7, 7 + size))).decode()
    return "whsec_" + (encoded if padded else encoded.rstrip("="))


# 32 and 31 bytes end in one and two '=' when padded; 24 bytes need no padding at all.
KEYS = [
    pytest.param(_key_text(size, padded), id=f"{size}-bytes-{'padded' if padded else 'unpadded'}")
    for size in (32, 31, 24)
    for padded in (True, False)
]


@pytest.mark.parametrize("secret", KEYS)
def test_reference_library_verifies_what_we_sign(secret: str) -> None:
    headers = sign("standard", secret, BODY, msg_id="msg_interop1")
    assert Webhook(secret).verify(BODY, headers, json_parse=False) is None  # raises when it does not verify


@pytest.mark.parametrize("secret", KEYS)
def test_we_verify_what_the_reference_library_signs(secret: str) -> None:
    now = int(time.time())
    signature = Webhook(secret).sign("msg_interop2", datetime.fromtimestamp(now, UTC), BODY.decode())
    headers = {"webhook-id": "msg_interop2", "webhook-timestamp": str(now), "webhook-signature": signature}
    result = verify("standard", secret, BODY, headers)
    assert result.ok, result.detail


def test_padded_and_unpadded_spellings_are_one_key_to_both_sides() -> None:
    padded, unpadded = _key_text(32, True), _key_text(32, False)
    headers = sign("standard", unpadded, BODY)
    Webhook(padded).verify(BODY, headers, json_parse=False)
    assert verify("standard", padded, BODY, headers).ok


def test_a_signature_under_another_key_fails_on_both_sides() -> None:
    headers = sign("standard", _key_text(32, False), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(_key_text(31, True)).verify(BODY, headers, json_parse=False)
    assert not verify("standard", _key_text(31, True), BODY, headers).ok
