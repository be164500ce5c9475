"""WhatsAble's two X-Webhook-Signature constructions: the hex HMAC of the body and the fixed value, and auto."""

from __future__ import annotations

import pytest

from whatsable_cli.errors import BadInputError
from whatsable_cli.webhooks.schemes import SCHEMES, generate_secret, get_scheme, scheme_names
from whatsable_cli.webhooks.signing import Reason, sign, verify

# The only example value WhatsAble's current message webhooks page shows for X-Webhook-Signature
# (guides/notifyer-system/api/incoming-message.mdx at 29711f866434fee037b50bfea48c49ebd199935d).
DOCUMENTED_VALUE = (
    "RNEefV2V_tiDZeiOpeqMzWsR3X4zGOxIYARIF5-Ia2MXWIgT48jO-M4A1-bgr9bxdoHy5vb7azy_Vd-Gsp4qoAVhQCVyWZxhD1ZNJTQi9VNe"
    "zJ6C7mnPy--osqcDSq1bfjjppAXBlyenWIa8_506ez5Z92p-eGucalu3-1g6wOk"
)
BODY = b'{"phone_number":"14155552671","message_type":"text","incoming_message":true}'
HMAC_SECRET = "test_signature_secret"


def test_the_documented_value_is_171_base64url_characters() -> None:
    import base64

    assert len(DOCUMENTED_VALUE) == 171
    assert len(base64.urlsafe_b64decode(DOCUMENTED_VALUE + "=")) == 128


def test_whatsable_is_an_alias_of_the_hmac_scheme() -> None:
    assert get_scheme("whatsable") is SCHEMES["whatsable-hmac"]
    assert get_scheme("WHATSABLE-Static") is SCHEMES["whatsable-static"]
    assert sign("whatsable", HMAC_SECRET, BODY) == sign("whatsable-hmac", HMAC_SECRET, BODY)
    assert scheme_names(with_auto=True) == ("auto", "whatsable-hmac", "whatsable-static", "standard", "svix")


def test_fixed_value_scheme_sends_the_secret_and_compares_it() -> None:
    headers = sign("whatsable-static", DOCUMENTED_VALUE, BODY)
    assert headers == {"X-Webhook-Signature": DOCUMENTED_VALUE}
    assert verify("whatsable-static", DOCUMENTED_VALUE, BODY, headers).ok
    # the value does not depend on the body: that is what a fixed value is (send-test says so)
    assert verify("whatsable-static", DOCUMENTED_VALUE, b"{}", headers).ok
    assert not SCHEMES["whatsable-static"].signs_body


def test_documented_value_is_accepted_with_its_secret_under_auto() -> None:
    result = verify("auto", DOCUMENTED_VALUE, BODY, {"X-Webhook-Signature": DOCUMENTED_VALUE})
    assert result.ok and result.scheme == "whatsable-static"


def test_auto_still_accepts_the_hex_hmac() -> None:
    result = verify("auto", HMAC_SECRET, BODY, sign("whatsable-hmac", HMAC_SECRET, BODY))
    assert result.ok and result.scheme == "whatsable-hmac"


@pytest.mark.parametrize("scheme", ["whatsable", "whatsable-hmac", "auto"])
def test_documented_value_is_never_malformed(scheme: str) -> None:
    result = verify(scheme, "some other secret", BODY, {"X-Webhook-Signature": DOCUMENTED_VALUE})
    assert result.reason is not Reason.MALFORMED_HEADER
    assert result.reason is Reason.MISMATCH
    assert "built by hand" not in (result.hint or "")


def test_hmac_scheme_meeting_the_fixed_value_names_the_other_scheme() -> None:
    result = verify("whatsable-hmac", DOCUMENTED_VALUE, BODY, {"X-Webhook-Signature": DOCUMENTED_VALUE})
    assert result.reason is Reason.OTHER_SCHEME
    assert "whatsable-static" in (result.hint or "")


def test_fixed_scheme_meeting_a_hex_hmac_names_the_other_scheme() -> None:
    result = verify("whatsable-static", HMAC_SECRET, BODY, sign("whatsable-hmac", HMAC_SECRET, BODY))
    assert result.reason is Reason.OTHER_SCHEME
    assert "whatsable-hmac" in (result.hint or "")


def test_auto_reports_the_failure_of_the_construction_the_value_looks_like() -> None:
    hex_value = sign("whatsable-hmac", "the sender's", BODY)
    assert verify("auto", HMAC_SECRET, BODY, hex_value).scheme == "whatsable-hmac"
    token = verify("auto", HMAC_SECRET, BODY, {"X-Webhook-Signature": DOCUMENTED_VALUE})
    assert token.scheme == "whatsable-static" and token.reason is Reason.MISMATCH
    assert "--explain" in (token.hint or "")


def test_fixed_value_with_a_secret_copied_with_whitespace_is_explained() -> None:
    result = verify("whatsable-static", DOCUMENTED_VALUE + "\n", BODY, {"X-Webhook-Signature": DOCUMENTED_VALUE})
    assert result.reason is Reason.MISMATCH and "whitespace" in result.detail


def test_fixed_value_compares_in_constant_time() -> None:
    import hmac
    from unittest import mock

    with mock.patch.object(hmac, "compare_digest", wraps=hmac.compare_digest) as compare:
        verify("whatsable-static", DOCUMENTED_VALUE, BODY, {"X-Webhook-Signature": DOCUMENTED_VALUE})
    assert compare.called


def test_empty_fixed_value_is_malformed_and_an_empty_secret_is_bad_input() -> None:
    assert verify("whatsable-static", "s", BODY, {"X-Webhook-Signature": " "}).reason is Reason.MALFORMED_HEADER
    with pytest.raises(BadInputError):
        verify("whatsable-static", "", BODY, {"X-Webhook-Signature": "x"})
    with pytest.raises(BadInputError):
        sign("whatsable-static", "", BODY)


def test_a_fixed_secret_has_the_documented_form() -> None:
    secret = generate_secret("whatsable-static")
    assert len(secret) == 171
    assert set(secret) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_auto_without_any_signature_header_is_missing() -> None:
    assert verify("auto", HMAC_SECRET, BODY, {}).reason is Reason.MISSING_HEADER
