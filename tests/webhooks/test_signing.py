"""Signing and verification: published golden vectors for each scheme, and one defect per test."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whatsable_cli.errors import BadInputError
from whatsable_cli.webhooks.signing import (
    Reason,
    check_secret,
    decode_whsec,
    detect_scheme,
    generate_secret,
    listener_secret_warning,
    parse_timestamp,
    sign,
    verify,
)

STD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ENVELOPE = (
    b'{"event":"message_status","data":{"message_id":"wamid.123456789","status":"delivered",'
    b'"timestamp":"2024-03-23T21:41:44.477Z"}}'
)


def fixed(ts: float):
    return lambda: ts


def test_standard_webhooks_official_vector() -> None:
    headers = sign(
        "standard",
        STD_SECRET,
        b'{"test": 2432232314}',
        msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp=1614265330,
    )
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert headers["webhook-id"] == "msg_p5jXN8AQM9LWM0D4loKWxJek"
    assert headers["webhook-timestamp"] == "1614265330"


def test_standard_vector_on_whatsable_envelope() -> None:
    assert len(ENVELOPE) == 126
    headers = sign("standard", STD_SECRET, ENVELOPE, msg_id="msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", timestamp=1711230104)
    assert headers["webhook-signature"] == "v1,F8Zakk6KSV7T9CcOkMYqwxH7G375KY1gbxfMaBVDBI0="


def test_svix_uses_same_construction_with_svix_headers() -> None:
    headers = sign("svix", STD_SECRET, ENVELOPE, msg_id="msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", timestamp=1711230104)
    assert headers == {
        "svix-id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
        "svix-timestamp": "1711230104",
        "svix-signature": "v1,F8Zakk6KSV7T9CcOkMYqwxH7G375KY1gbxfMaBVDBI0=",
    }


def test_whatsable_vector() -> None:
    headers = sign("whatsable", "test_signature_secret", ENVELOPE)
    assert headers == {"X-Webhook-Signature": "6ecbc27ad2de17fc5c5d9eb9e3a4759288a4915a7f88ad9fa54b3b8335903edf"}


@pytest.mark.parametrize("scheme", ["whatsable", "standard", "svix"])
def test_sign_then_verify_round_trip(scheme: str) -> None:
    secret = generate_secret(scheme)
    headers = sign(scheme, secret, ENVELOPE, clock=fixed(1711230104))
    result = verify(scheme, secret, ENVELOPE, headers, clock=fixed(1711230104 + 10))
    assert result.ok, result.detail
    assert result.reason is Reason.VALID


def test_verify_official_vector_at_its_time() -> None:
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    assert verify("standard", STD_SECRET, b'{"test": 2432232314}', headers, clock=fixed(1614265330)).ok


def test_tampered_body_is_a_mismatch() -> None:
    headers = sign("whatsable", "s3cret", ENVELOPE)
    result = verify("whatsable", "s3cret", ENVELOPE.replace(b"delivered", b"read"), headers)
    assert result.reason is Reason.MISMATCH
    assert "X-Webhook-Signature" in result.detail


def test_wrong_secret_is_a_mismatch() -> None:
    headers = sign("standard", STD_SECRET, ENVELOPE, clock=fixed(1000))
    other = generate_secret("standard")
    assert verify("standard", other, ENVELOPE, headers, clock=fixed(1000)).reason is Reason.MISMATCH


def test_missing_header_names_the_header_and_suggests_the_scheme_present() -> None:
    headers = sign("svix", STD_SECRET, ENVELOPE, clock=fixed(1000))
    result = verify("standard", STD_SECRET, ENVELOPE, headers, clock=fixed(1000))
    assert result.reason is Reason.MISSING_HEADER
    assert result.hint is not None
    assert "--scheme svix" in result.hint


def test_malformed_signature_header() -> None:
    result = verify("whatsable", "s", ENVELOPE, {"X-Webhook-Signature": "not-hex"})
    assert result.reason is Reason.MALFORMED_HEADER
    result = verify(
        "standard",
        STD_SECRET,
        ENVELOPE,
        {"webhook-id": "m", "webhook-timestamp": "1", "webhook-signature": "v1,@@@"},
        clock=fixed(1),
    )
    assert result.reason is Reason.MALFORMED_HEADER


def test_non_numeric_timestamp_is_malformed() -> None:
    headers = {"webhook-id": "m", "webhook-timestamp": "yesterday", "webhook-signature": "v1,AAAA"}
    assert verify("standard", STD_SECRET, ENVELOPE, headers).reason is Reason.MALFORMED_HEADER


@pytest.mark.parametrize(("offset", "reason"), [(-600, Reason.STALE_TIMESTAMP), (600, Reason.FUTURE_TIMESTAMP)])
def test_timestamp_outside_tolerance(offset: int, reason: Reason) -> None:
    headers = sign("standard", STD_SECRET, ENVELOPE, timestamp=1_000_000 + offset)
    result = verify("standard", STD_SECRET, ENVELOPE, headers, clock=fixed(1_000_000))
    assert result.reason is reason
    assert result.skew_seconds == offset


def test_timestamp_just_inside_tolerance_passes() -> None:
    headers = sign("standard", STD_SECRET, ENVELOPE, timestamp=1_000_000 - 299)
    assert verify("standard", STD_SECRET, ENVELOPE, headers, clock=fixed(1_000_000)).ok


def test_whsec_key_used_as_text_is_explained() -> None:
    # The reference's vector for the mistake: the key taken as the UTF-8 of the whole whsec_ string.
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,TcxlhK9b6UD6iVI1ZU2tTqp8PEVfYRseNNfa6b+LcUg=",
    }
    result = verify("standard", STD_SECRET, b'{"test": 2432232314}', headers, clock=fixed(1614265330))
    assert result.reason is Reason.WHSEC_AS_TEXT
    assert "base64-decoded" in (result.hint or "")


def test_reserialised_body_is_explained() -> None:
    pretty = b'{"event": "message_status", "data": {"status": "read"}}'
    compact = b'{"event":"message_status","data":{"status":"read"}}'
    headers = sign("whatsable", "k", pretty)
    result = verify("whatsable", "k", compact, headers)
    assert result.reason is Reason.RESERIALISED_BODY


def test_rotation_any_listed_signature_matches() -> None:
    good = sign("standard", STD_SECRET, ENVELOPE, msg_id="msg_1", timestamp=50)["webhook-signature"]
    old = sign("standard", generate_secret("standard"), ENVELOPE, msg_id="msg_1", timestamp=50)["webhook-signature"]
    headers = {"webhook-id": "msg_1", "webhook-timestamp": "50", "webhook-signature": f"{old} v2,xyz {good}"}
    assert verify("standard", STD_SECRET, ENVELOPE, headers, clock=fixed(50)).ok


def test_header_lookup_is_case_insensitive() -> None:
    headers = {k.upper(): v for k, v in sign("whatsable", "k", ENVELOPE).items()}
    assert verify("whatsable", "k", ENVELOPE, headers).ok
    assert detect_scheme(headers) == "whatsable-hmac"  # `whatsable` is kept as its alias


def test_bad_standard_secret_is_bad_input() -> None:
    with pytest.raises(BadInputError):
        sign("standard", "whsec_not base64!!", ENVELOPE)


def test_generated_secrets_have_the_right_form() -> None:
    assert len(decode_whsec(generate_secret("standard"))) == 32
    raw = generate_secret("whatsable")
    assert len(raw) == 64
    assert set(raw) <= set("0123456789abcdef")  # lowercase hex text
    assert base64.b64decode(generate_secret("svix")[6:])


def test_message_id_with_dot_is_rejected() -> None:
    with pytest.raises(BadInputError):
        sign("standard", STD_SECRET, ENVELOPE, msg_id="a.b")


# -- malformed timestamps: a verdict, never a crash ---------------------------------------------------------
OFFICIAL_HEADERS = {
    "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
    "webhook-timestamp": "1614265330",
    "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
}
OFFICIAL_BODY = b'{"test": 2432232314}'


@pytest.mark.parametrize(
    "timestamp",
    [
        "²",  # str.isdigit() says yes, int() says no
        "١٦١٤٢٦٥٣٣٠",  # Arabic-Indic digits: int() accepts them, they are not what was signed
        "9" * 400,  # int() takes it, subtracting it from the clock overflows a float
        "-1614265330",
        "+1614265330",
        " 1614265330",
        "1614265330 ",
        "1614 265330",
        "",
        "0x60377d72",
    ],
)
def test_malformed_timestamp_is_malformed_header_not_a_crash(timestamp: str) -> None:
    headers = {**OFFICIAL_HEADERS, "webhook-timestamp": timestamp}
    result = verify("standard", STD_SECRET, OFFICIAL_BODY, headers, clock=fixed(1614265330))
    assert result.reason is Reason.MALFORMED_HEADER
    assert "webhook-timestamp" in result.detail
    assert len(result.detail) < 200  # a long value is cut short in the explanation


def test_timestamp_parsing_takes_ascii_digits_of_a_sane_length_only() -> None:
    assert parse_timestamp("1614265330") == 1614265330
    assert parse_timestamp("0") == 0
    assert parse_timestamp("9" * 12) == 999_999_999_999
    assert parse_timestamp("9" * 13) is None
    assert parse_timestamp("²") is None
    assert parse_timestamp("１２３") is None  # full-width digits


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=500) | st.from_regex(r"\A[0-9]{1,20}\Z"))
def test_any_timestamp_header_gets_a_verdict(timestamp: str) -> None:
    headers = {**OFFICIAL_HEADERS, "webhook-timestamp": timestamp}
    result = verify("standard", STD_SECRET, OFFICIAL_BODY, headers, clock=fixed(1614265330))
    sane = timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12
    assert (result.reason is Reason.MALFORMED_HEADER) is not sane
    assert (result.reason is Reason.VALID) is (sane and int(timestamp) == 1614265330)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 200_000 + b"]" * 200_000,  # too deep for json.loads
        b"[" * 5_000 + b"]" * 5_000,  # parses, too deep for json.dumps
        b'{"a": "\\ud800"}',  # a lone surrogate: no UTF-8 form of it exists
    ],
    ids=["too-deep-to-parse", "too-deep-to-dump", "lone-surrogate"],
)
@pytest.mark.parametrize("scheme", ["whatsable", "standard"])
def test_hostile_body_under_a_wrong_signature_is_a_mismatch_not_a_crash(body: bytes, scheme: str) -> None:
    headers = sign(scheme, generate_secret(scheme), body, clock=fixed(1000))
    result = verify(scheme, generate_secret(scheme), body, headers, clock=fixed(1000))
    assert result.reason is Reason.MISMATCH


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2_000) | st.recursive(st.just(b"1"), lambda inner: inner.map(lambda b: b"[" + b + b"]")))
def test_any_body_under_a_wrong_signature_gets_a_verdict(body: bytes) -> None:
    headers = sign("whatsable", "the sender's secret", body)
    assert verify("whatsable", "another secret", body, headers).reason is Reason.MISMATCH


def test_present_but_empty_message_id_is_malformed_and_absent_is_missing() -> None:
    empty = verify("standard", STD_SECRET, OFFICIAL_BODY, {**OFFICIAL_HEADERS, "webhook-id": ""}, clock=fixed(1))
    assert empty.reason is Reason.MALFORMED_HEADER
    absent = {k: v for k, v in OFFICIAL_HEADERS.items() if k != "webhook-timestamp"}
    assert verify("standard", STD_SECRET, OFFICIAL_BODY, absent).reason is Reason.MISSING_HEADER


# -- empty keys: refused before any work ---------------------------------------------------------------------
@pytest.mark.parametrize("secret", ["whsec_", "", "whsec_="])
@pytest.mark.parametrize("scheme", ["standard", "svix"])
def test_empty_standard_key_cannot_sign(scheme: str, secret: str) -> None:
    with pytest.raises(BadInputError) as raised:
        sign(scheme, secret, ENVELOPE, clock=fixed(1000))
    assert raised.value.code in ("empty_secret", "bad_secret")


def test_forgery_made_with_an_empty_key_does_not_verify() -> None:
    import hashlib
    import hmac

    signed = b"msg_1.1000." + ENVELOPE
    forged = "v1," + base64.b64encode(hmac.new(b"", signed, hashlib.sha256).digest()).decode()
    headers = {"webhook-id": "msg_1", "webhook-timestamp": "1000", "webhook-signature": forged}
    with pytest.raises(BadInputError) as raised:
        verify("standard", "whsec_", ENVELOPE, headers, clock=fixed(1000))
    assert raised.value.code == "empty_secret"


@pytest.mark.parametrize("scheme", ["whatsable", "standard", "svix", "auto"])
def test_empty_whsec_key_is_refused_under_every_scheme(scheme: str) -> None:
    with pytest.raises(BadInputError) as raised:
        listener_secret_warning(scheme, "whsec_")
    assert raised.value.code == "empty_secret"
    assert raised.value.hint
    with pytest.raises(BadInputError):
        check_secret("whatsable", "")


# -- unpadded keys: accepted as the reference libraries accept them ------------------------------------------
def test_unpadded_key_gives_the_same_key_as_the_padded_one() -> None:
    padded = "whsec_" + base64.b64encode(bytes(range(31))).decode()
    assert padded.endswith("=")
    assert decode_whsec(padded.rstrip("=")) == decode_whsec(padded) == bytes(range(31))
    unpadded = padded.rstrip("=")
    headers = sign("standard", unpadded, ENVELOPE, msg_id="msg_1", timestamp=50)
    assert verify("standard", padded, ENVELOPE, headers, clock=fixed(50)).ok


@pytest.mark.parametrize("secret", ["whsec_abc!", "whsec_ab cd", "whsec_ab-_cd", "whsec_a", "whsec_abc==="])
def test_non_base64_keys_are_still_refused(secret: str) -> None:
    with pytest.raises(BadInputError) as raised:
        decode_whsec(secret)
    assert raised.value.code == "bad_secret"


# -- a listener's secret, checked before it serves ------------------------------------------------------------
def test_listener_secret_that_cannot_work_with_the_chosen_scheme_is_bad_input() -> None:
    with pytest.raises(BadInputError) as raised:
        listener_secret_warning("standard", "test_signature_secret!")
    assert raised.value.code == "bad_secret"
    assert listener_secret_warning("standard", STD_SECRET) is None
    assert listener_secret_warning("whatsable", "test_signature_secret!") is None


def test_auto_with_a_plain_secret_warns_once_instead_of_failing() -> None:
    warning = listener_secret_warning("auto", "a-whatsable_secret")  # base64url: not a Standard Webhooks key
    assert warning is not None and "webhook-signature" in warning
    assert "a-whatsable_secret" not in warning
    assert listener_secret_warning("auto", STD_SECRET) is None
