"""The one redaction policy every display uses: signature header values hidden unless --show-secrets."""

from __future__ import annotations

from whatsable_cli.webhooks.redaction import display_header_value, has_signature, shown_headers
from whatsable_cli.webhooks.signing import generate_secret, sign

BODY = b'{"event":"message_status","data":{"status":"read"}}'


def test_every_schemes_signature_is_redacted_whatever_its_case_and_nothing_else_is() -> None:
    for scheme in ("whatsable", "standard", "svix"):
        secret = generate_secret(scheme)
        headers = [(name.upper(), value) for name, value in sign(scheme, secret, BODY, timestamp=1_700_000_000).items()]
        shown = dict(shown_headers([*headers, ("Content-Type", "application/json")], show_secrets=False))
        for name, value in headers:
            if "SIGNATURE" in name:
                assert value not in shown[name] and shown[name].endswith(f"({len(value)} chars)")
            else:  # ids and timestamps are not secret-derived: shown as sent
                assert shown[name] == value
        assert shown["Content-Type"] == "application/json"
        assert shown_headers(headers, show_secrets=True) == headers
        assert has_signature(headers) and not has_signature([("Content-Type", "application/json")])


def test_a_short_value_is_masked_whole() -> None:
    assert display_header_value("x-webhook-signature", "abc", show_secrets=False) == "****"
    assert display_header_value("x-webhook-signature", "abc", show_secrets=True) == "abc"
