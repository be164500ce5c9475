"""Webhook signature schemes: sign the exact bytes sent, verify the exact bytes received (stdlib only)."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from whatsable_cli.errors import BadInputError

Clock = Callable[[], float]

DEFAULT_SCHEME = "whatsable"
DEFAULT_TOLERANCE_SECONDS = 300
WHSEC_PREFIX = "whsec_"
# Unix seconds have 10 digits until the year 2286; 12 leave room for leading zeros and keep every value a
# float can subtract from the clock without overflowing.
MAX_TIMESTAMP_DIGITS = 12


@dataclass(frozen=True)
class Scheme:
    """One signature scheme: which headers it uses and whether it signs a timestamp (a table entry)."""

    name: str
    signature_header: str
    id_header: str | None = None
    timestamp_header: str | None = None
    description: str = ""

    @property
    def timestamped(self) -> bool:
        return self.timestamp_header is not None

    @property
    def header_names(self) -> tuple[str, ...]:
        names = (self.id_header, self.timestamp_header, self.signature_header)
        return tuple(n for n in names if n is not None)


SCHEMES: dict[str, Scheme] = {
    "whatsable": Scheme(
        "whatsable",
        signature_header="X-Webhook-Signature",
        description="X-Webhook-Signature: hex HMAC-SHA256 of the raw body, key = secret as UTF-8",
    ),
    "standard": Scheme(
        "standard",
        signature_header="webhook-signature",
        id_header="webhook-id",
        timestamp_header="webhook-timestamp",
        description="Standard Webhooks v1: webhook-signature: v1,<base64 HMAC of id.timestamp.body>",
    ),
    "svix": Scheme(
        "svix",
        signature_header="svix-signature",
        id_header="svix-id",
        timestamp_header="svix-timestamp",
        description="Svix: Standard Webhooks with svix- header names",
    ),
}

# Header names (lower case) that carry secrets-derived values; displays redact them.
SIGNATURE_HEADER_NAMES = frozenset(s.signature_header.lower() for s in SCHEMES.values())


class Reason(StrEnum):
    """Why a verification came out the way it did."""

    VALID = "valid"
    MISSING_HEADER = "missing_header"
    MALFORMED_HEADER = "malformed_header"
    MISMATCH = "mismatch"
    WHSEC_AS_TEXT = "whsec_as_text"
    RESERIALISED_BODY = "reserialised_body"
    STALE_TIMESTAMP = "stale_timestamp"
    FUTURE_TIMESTAMP = "future_timestamp"


@dataclass(frozen=True)
class Verification:
    """The outcome of a verification, with a reason and an explanation a developer can act on."""

    scheme: str
    reason: Reason
    detail: str
    hint: str | None = None
    skew_seconds: float | None = None
    signed_content: str | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.reason is Reason.VALID


def get_scheme(name: str) -> Scheme:
    """Look a scheme up by name, or fail with the list of valid names."""
    try:
        return SCHEMES[name.lower()]
    except KeyError:
        raise BadInputError(
            f"unknown signature scheme {name!r}",
            hint=f"use one of: {', '.join(SCHEMES)}",
            code="unknown_scheme",
        ) from None


def header_lookup(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that works for plain dicts as well as multidicts."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, val in headers.items():
        if key.lower() == lowered:
            return val
    return None


def detect_scheme(headers: Mapping[str, str]) -> str | None:
    """Guess the scheme from which signature header is present; None when none is."""
    # Direct lookups first: a case-insensitive multidict (the listener's, once per request) answers here.
    for scheme in SCHEMES.values():
        if scheme.signature_header in headers:
            return scheme.name
    lowered = {name.lower() for name in headers}  # a plain dict spelt in another case: one pass over it
    for scheme in SCHEMES.values():
        if scheme.signature_header.lower() in lowered:
            return scheme.name
    return None


def decode_whsec(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret: the base64 after an optional `whsec_` prefix.

    Padding may be left off (the reference libraries accept that); any other character outside standard
    base64 is refused, and so is a key of zero bytes, which anyone could sign with."""
    encoded = secret.removeprefix(WHSEC_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise BadInputError(
            "the secret is not a Standard Webhooks key (whsec_ followed by base64)",
            hint="generate one with `whatsable secret generate --scheme standard`",
            code="bad_secret",
        ) from None
    if not key:
        raise _empty_key_error()
    return key


def _empty_key_error() -> BadInputError:
    return BadInputError(
        "the secret is empty: a signature keyed with nothing can be made by anyone",
        hint="use the secret your sender shows, or generate one with `whatsable secret generate`",
        code="empty_secret",
    )


def signing_key(scheme: Scheme, secret: str) -> bytes:
    """The HMAC key bytes for the scheme; bad input when the secret cannot give a non-empty key.

    An empty whsec_ key is refused under the text-keyed scheme too: its text is no secret either."""
    if scheme.timestamped:
        return decode_whsec(secret)
    if not secret or is_empty_whsec(secret):
        raise _empty_key_error()
    return secret.encode("utf-8")


@functools.lru_cache(maxsize=8)  # once per request on the listener: the secret does not change
def _key(scheme: Scheme, secret: str) -> bytes:
    return signing_key(scheme, secret)


def check_secret(scheme_name: str, secret: str) -> None:
    """Refuse, before any work, a secret that cannot sign or verify under the named scheme."""
    signing_key(get_scheme(scheme_name), secret)


def is_empty_whsec(secret: str) -> bool:
    """A `whsec_` key whose base64 holds no bytes: empty under every scheme that would read it as a key."""
    if not secret.startswith(WHSEC_PREFIX):
        return False
    try:
        decode_whsec(secret)
    except BadInputError as err:
        return err.code == "empty_secret"
    return False


def listener_secret_warning(scheme_name: str, secret: str) -> str | None:
    """Check a listener's secret before it serves: bad input when it cannot work with the chosen scheme.

    With `auto` each request picks its scheme, so a plain (non-whsec) secret is fine for the whatsable
    scheme; what it cannot do, verify Standard Webhooks or Svix requests, is returned as a warning to show
    once rather than a failure found on every such request."""
    check_secret(DEFAULT_SCHEME if scheme_name.lower() == "auto" else scheme_name, secret)
    if scheme_name.lower() != "auto":
        return None
    try:
        decode_whsec(secret)
    except BadInputError:
        return (
            "the secret is not a Standard Webhooks key (whsec_ followed by base64): requests signed with "
            "webhook-signature or svix-signature cannot be verified with it, only X-Webhook-Signature"
        )
    return None


def _signed_content(scheme: Scheme, body: bytes, msg_id: str, timestamp: str) -> bytes:
    if not scheme.timestamped:
        return body
    return f"{msg_id}.{timestamp}.".encode() + body


@functools.lru_cache(maxsize=8)
def _keyed_hmac(key: bytes) -> hmac.HMAC:
    return hmac.new(key, digestmod=hashlib.sha256)


def _digest(scheme: Scheme, key: bytes, content: bytes) -> str:
    # A copy of an HMAC already keyed: the key's pads are hashed once per secret, not once per request.
    hasher = _keyed_hmac(key).copy()
    hasher.update(content)
    mac = hasher.digest()
    return base64.b64encode(mac).decode() if scheme.timestamped else mac.hex()


def new_message_id() -> str:
    """A fresh Standard Webhooks message id (never contains '.')."""
    return "msg_" + secrets.token_urlsafe(18).replace("-", "x").replace("_", "y")


def sign(
    scheme_name: str,
    secret: str,
    body: bytes,
    *,
    msg_id: str | None = None,
    timestamp: int | None = None,
    clock: Clock = time.time,
) -> dict[str, str]:
    """Return the headers that sign `body` under the scheme."""
    scheme = get_scheme(scheme_name)
    key = _key(scheme, secret)
    if not scheme.timestamped:
        return {scheme.signature_header: _digest(scheme, key, body)}
    assert scheme.id_header is not None
    assert scheme.timestamp_header is not None
    msg_id = msg_id or new_message_id()
    if "." in msg_id:
        raise BadInputError(
            f"message id {msg_id!r} contains '.'", hint="ids must not contain dots", code="invalid_message_id"
        )
    ts = str(int(clock()) if timestamp is None else timestamp)
    signature = _digest(scheme, key, _signed_content(scheme, body, msg_id, ts))
    return {scheme.id_header: msg_id, scheme.timestamp_header: ts, scheme.signature_header: f"v1,{signature}"}


def parse_timestamp(text: str) -> int | None:
    """Unix seconds from a timestamp header: 1 to MAX_TIMESTAMP_DIGITS ASCII digits, else None.

    str.isdigit() and int() also take other scripts' digits and superscripts ('²'), and an unbounded run
    of digits overflows a float; both must be a malformed header, not a crash."""
    if not 0 < len(text) <= MAX_TIMESTAMP_DIGITS or not text.isascii() or not text.isdigit():
        return None
    return int(text)


def _shown(value: str, limit: int = 40) -> str:
    """A header value quoted for an explanation, cut short when it is long."""
    return repr(value) if len(value) <= limit else f"{value[:limit]!r}… ({len(value)} characters)"


def _candidate_signatures(scheme: Scheme, value: str) -> list[str]:
    """The signatures listed in a header value (several are allowed, for key rotation)."""
    parts = value.replace(",", " ").split() if not scheme.timestamped else value.split()
    if not scheme.timestamped:
        return [p.removeprefix("sha256=").lower() for p in parts]
    return [p[3:] for p in parts if p.startswith("v1,")]


def _well_formed(scheme: Scheme, signature: str) -> bool:
    if not scheme.timestamped:
        # strip() removes every hex digit in C: nothing left means all 64 were hex (a per-request check).
        return len(signature) == 64 and not signature.strip("0123456789abcdef")
    try:
        return len(base64.b64decode(signature, validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


def _any_matches(expected: str, candidates: list[str]) -> bool:
    # Check every candidate (no early exit) so timing does not reveal which one matched.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected.encode(), candidate.encode())
    return matched


# How a careless sender might have re-serialised the JSON it then signed.
_SERIALISATIONS: tuple[dict[str, Any], ...] = (
    {},
    {"separators": (",", ":")},
    {"separators": (",", ":"), "ensure_ascii": False},
    {"indent": 2},
    {"sort_keys": True},
    {"sort_keys": True, "separators": (",", ":")},
)


def _reserialisations(body: bytes) -> list[bytes]:
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


def _explain_mismatch(
    scheme: Scheme, secret: str, body: bytes, msg_id: str, ts: str, candidates: list[str]
) -> tuple[Reason, str, str]:
    """Look for the common mistakes behind a mismatch; return (reason, detail, hint)."""
    if scheme.timestamped:
        as_text = _digest(scheme, secret.encode(), _signed_content(scheme, body, msg_id, ts))
        if _any_matches(as_text, candidates):
            return (
                Reason.WHSEC_AS_TEXT,
                "the signature was made with the whsec_ secret's text as the HMAC key",
                "the key is the base64-decoded part after 'whsec_', not the string itself",
            )
    elif secret.startswith(WHSEC_PREFIX):
        try:
            decoded = decode_whsec(secret)
        except BadInputError:
            decoded = b""
        if decoded and _any_matches(_digest(scheme, decoded, body), candidates):
            return (
                Reason.WHSEC_AS_TEXT,
                "the signature was made with the base64-decoded whsec_ key, but this scheme keys with the text",
                "the 'whatsable' scheme uses the secret as UTF-8 text; did you mean --scheme standard?",
            )
    key = _key(scheme, secret)
    for form in _reserialisations(body):
        if _any_matches(_digest(scheme, key, _signed_content(scheme, form, msg_id, ts)), candidates):
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


def verify(
    scheme_name: str,
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    clock: Clock = time.time,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> Verification:
    """Verify `body` against the signature headers; the result says why it failed."""
    scheme = get_scheme(scheme_name)
    value = header_lookup(headers, scheme.signature_header)
    if value is None:
        other = detect_scheme(headers)
        hint = (
            f"the request carries {get_scheme(other).signature_header}: try --scheme {other}"
            if other and other != scheme.name
            else "the sender did not sign this request; is signing on for this webhook?"
        )
        return Verification(scheme.name, Reason.MISSING_HEADER, f"no {scheme.signature_header} header", hint)
    msg_id, ts = "", ""
    skew: float | None = None
    if scheme.timestamped:
        assert scheme.id_header is not None
        assert scheme.timestamp_header is not None
        found_id = header_lookup(headers, scheme.id_header)
        found_ts = header_lookup(headers, scheme.timestamp_header)
        if found_id is None or found_ts is None:
            missing = scheme.id_header if found_id is None else scheme.timestamp_header
            return Verification(scheme.name, Reason.MISSING_HEADER, f"no {missing} header")
        msg_id, ts = found_id, found_ts
        if not msg_id:
            return Verification(
                scheme.name, Reason.MALFORMED_HEADER, f"{scheme.id_header} is empty", "re-sign the request"
            )
        seconds = parse_timestamp(ts)
        if seconds is None:
            return Verification(
                scheme.name,
                Reason.MALFORMED_HEADER,
                f"{scheme.timestamp_header} is {_shown(ts)}, not Unix seconds",
                f"a timestamp is 1 to {MAX_TIMESTAMP_DIGITS} ASCII digits; re-sign the request",
            )
        skew = seconds - clock()
    candidates = _candidate_signatures(scheme, value)
    well_formed = [c for c in candidates if _well_formed(scheme, c)]
    if not well_formed:
        shape = "v1,<base64 of 32 bytes>" if scheme.timestamped else "64 lowercase hex characters"
        return Verification(
            scheme.name,
            Reason.MALFORMED_HEADER,
            f"{scheme.signature_header} holds no well-formed signature (expected {shape})",
            "the header was truncated or built by hand; re-sign the request",
            skew,
        )
    content = _signed_content(scheme, body, msg_id, ts)
    signed_label = f"{msg_id}.{ts}.<body>" if scheme.timestamped else "<raw body>"
    expected = _digest(scheme, _key(scheme, secret), content)
    if not _any_matches(expected, well_formed):
        reason, detail, hint = _explain_mismatch(scheme, secret, body, msg_id, ts, well_formed)
        return Verification(scheme.name, reason, detail, hint, skew, signed_label)
    if skew is not None and abs(skew) > tolerance:
        stale = skew < 0
        return Verification(
            scheme.name,
            Reason.STALE_TIMESTAMP if stale else Reason.FUTURE_TIMESTAMP,
            f"the signature matches but the timestamp is {abs(skew):.0f} s "
            f"{'old' if stale else 'in the future'} (tolerance ±{tolerance} s)",
            "a replayed request, or a clock out of sync (check NTP on both sides)",
            skew,
            signed_label,
        )
    return Verification(scheme.name, Reason.VALID, "signature valid", None, skew, signed_label)


def generate_secret(scheme_name: str = DEFAULT_SCHEME) -> str:
    """A fresh random secret of the right form for the scheme."""
    scheme = get_scheme(scheme_name)
    if scheme.timestamped:
        return WHSEC_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()
    return secrets.token_hex(32)
