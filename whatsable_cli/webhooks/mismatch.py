"""Why a signature did not verify: the common mistakes a sender makes, named so a developer can fix them."""

from __future__ import annotations

import hmac
import json
from typing import Any

from whatsable_cli.errors import BadInputError
from whatsable_cli.webhooks.schemes import (
    SCHEMES,
    WHSEC_PREFIX,
    Scheme,
    cached_key,
    decode_whsec,
)
from whatsable_cli.webhooks.signing import Reason, any_matches, digest, signed_content

# How a careless sender might have re-serialised the JSON it then signed.
_SERIALISATIONS: tuple[dict[str, Any], ...] = (
    {},
    {"separators": (",", ":")},
    {"separators": (",", ":"), "ensure_ascii": False},
    {"indent": 2},
    {"sort_keys": True},
    {"sort_keys": True, "separators": (",", ":")},
)


def reserialisations(body: bytes) -> list[bytes]:
    """Other byte forms of the same JSON a careless sender might have signed instead of the raw body.

    The body is the sender's (or an attacker's): nesting too deep to parse or to dump again, and lone
    surrogates that UTF-8 cannot carry, only mean there is no such form to offer."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return []
    forms: set[bytes] = set()
    for options in _SERIALISATIONS:
        try:
            forms.add(json.dumps(parsed, **options).encode())
        except (ValueError, RecursionError):
            continue
    forms.discard(body)
    return sorted(forms)


def explain_mismatch(
    scheme: Scheme, secret: str, body: bytes, msg_id: str, ts: str, candidates: list[str]
) -> tuple[Reason, str, str]:
    """Look for the common mistakes behind an HMAC mismatch; return (reason, detail, hint)."""
    if scheme.timestamped:
        as_text = digest(scheme, secret.encode(), signed_content(scheme, body, msg_id, ts))
        if any_matches(as_text, candidates):
            return (
                Reason.WHSEC_AS_TEXT,
                "the signature was made with the whsec_ secret's text as the HMAC key",
                "the key is the base64-decoded part after 'whsec_', not the string itself",
            )
    elif secret.startswith(WHSEC_PREFIX):
        decoded = decoded_whsec_or_empty(secret)
        if decoded and any_matches(digest(scheme, decoded, body), candidates):
            return (
                Reason.WHSEC_AS_TEXT,
                "the signature was made with the base64-decoded whsec_ key, but this scheme keys with the text",
                "the whatsable-hmac scheme uses the secret as UTF-8 text; did you mean --scheme standard?",
            )
    key = cached_key(scheme, secret)
    for form in reserialisations(body):
        if any_matches(digest(scheme, key, signed_content(scheme, form, msg_id, ts)), candidates):
            return (
                Reason.RESERIALISED_BODY,
                "the signature matches a re-serialised copy of the JSON, not the raw bytes received",
                "sign and verify the exact raw body bytes; never json.dumps(json.loads(body))",
            )
    return (
        Reason.MISMATCH,
        f"no {scheme.signature_header} signature matches the body ({len(body)} bytes) under this secret",
        "check the secret (a different secret, or one with stray whitespace?) and that the body was not altered",
    )


def explain_fixed_mismatch(scheme: Scheme, secret: str, body: bytes, token: str) -> tuple[Reason, str, str]:
    """Why a fixed value is not the secret: an HMAC of the body instead, stray whitespace, or another secret."""
    hmac_scheme = SCHEMES["whatsable-hmac"]
    if any_matches(digest(hmac_scheme, secret.encode(), body), [token.lower()]):
        return (
            Reason.OTHER_SCHEME,
            f"{scheme.signature_header} is the hex HMAC-SHA256 of the body, not a fixed value",
            "that is the whatsable-hmac scheme: use --scheme whatsable-hmac, or auto",
        )
    if secret.strip() != secret and hmac.compare_digest(token.encode(), secret.strip().encode()):
        return (
            Reason.MISMATCH,
            "the value equals the secret without its surrounding whitespace",
            "copy the secret again without spaces or a newline",
        )
    return (
        Reason.MISMATCH,
        f"{scheme.signature_header} ({len(token)} characters) is not this webhook's signature_secret",
        "check the secret; if it is right, the value is derived from it some other way: "
        "`whatsable verify --explain` tries every construction whatsable knows",
    )


def decoded_whsec_or_empty(secret: str) -> bytes:
    """The key a whsec_ secret stands for, or no bytes when it is not one."""
    try:
        return decode_whsec(secret)
    except BadInputError:
        return b""
