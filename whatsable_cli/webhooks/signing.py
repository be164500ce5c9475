"""Sign the exact bytes sent, verify the exact bytes received, under any scheme of the table (stdlib only).

Sign and verify are one path for every scheme (they must never disagree); the scheme table is `schemes.py`, the
explanations of a mismatch `mismatch.py`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from whatsable_cli.errors import BadInputError
from whatsable_cli.webhooks.schemes import (
    AUTO,
    DEFAULT_SCHEME,
    DEFAULT_TOLERANCE_SECONDS,
    MAX_TIMESTAMP_DIGITS,
    SCHEMES,
    SIGNATURE_HEADER_NAMES,
    WHSEC_PREFIX,
    Construction,
    Scheme,
    cached_key,
    check_secret,
    decode_whsec,
    detect_scheme,
    generate_secret,
    get_scheme,
    header_lookup,
    listener_secret_warning,
    new_message_id,
    parse_timestamp,
    schemes_for_headers,
)

# The scheme table and its helpers live in webhooks.schemes; they are named here too, where the code that
# signs and verifies has always found them.
__all__ = [
    "AUTO",
    "DEFAULT_SCHEME",
    "DEFAULT_TOLERANCE_SECONDS",
    "SCHEMES",
    "SIGNATURE_HEADER_NAMES",
    "WHSEC_PREFIX",
    "Clock",
    "Reason",
    "Scheme",
    "Verification",
    "check_secret",
    "decode_whsec",
    "detect_scheme",
    "generate_secret",
    "get_scheme",
    "header_lookup",
    "listener_secret_warning",
    "new_message_id",
    "parse_timestamp",
    "sign",
    "verify",
]

Clock = Callable[[], float]
# A value in X-Webhook-Signature at least this long, in base64 or base64url's alphabet, is a signature of
# another construction (WhatsAble's current page shows 171 characters), not a broken hex one.
MIN_TOKEN_LENGTH = 16
_TOKEN_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_")


class Reason(StrEnum):
    """Why a verification came out the way it did."""

    VALID = "valid"
    MISSING_HEADER = "missing_header"
    MALFORMED_HEADER = "malformed_header"
    MISMATCH = "mismatch"
    OTHER_SCHEME = "other_scheme"  # it does not verify under this scheme, and does under another one
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


def signed_content(scheme: Scheme, body: bytes, msg_id: str, timestamp: str) -> bytes:
    if not scheme.timestamped:
        return body
    return f"{msg_id}.{timestamp}.".encode() + body


@functools.lru_cache(maxsize=8)
def _keyed_hmac(key: bytes) -> hmac.HMAC:
    return hmac.new(key, digestmod=hashlib.sha256)


def digest(scheme: Scheme, key: bytes, content: bytes) -> str:
    """The signature of `content` under the scheme's HMAC construction (hex, or base64 when timestamped)."""
    # A copy of an HMAC already keyed: the key's pads are hashed once per secret, not once per request.
    hasher = _keyed_hmac(key).copy()
    hasher.update(content)
    mac = hasher.digest()
    return base64.b64encode(mac).decode() if scheme.timestamped else mac.hex()


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
    key = cached_key(scheme, secret)
    if scheme.construction is Construction.FIXED:
        return {scheme.signature_header: secret}
    if not scheme.timestamped:
        return {scheme.signature_header: digest(scheme, key, body)}
    assert scheme.id_header is not None
    assert scheme.timestamp_header is not None
    msg_id = msg_id or new_message_id()
    if "." in msg_id:
        raise BadInputError(
            f"message id {msg_id!r} contains '.'", hint="ids must not contain dots", code="invalid_message_id"
        )
    ts = str(int(clock()) if timestamp is None else timestamp)
    signature = digest(scheme, key, signed_content(scheme, body, msg_id, ts))
    return {scheme.id_header: msg_id, scheme.timestamp_header: ts, scheme.signature_header: f"v1,{signature}"}


def shown(value: str, limit: int = 40) -> str:
    """A header value quoted for an explanation, cut short when it is long."""
    return repr(value) if len(value) <= limit else f"{value[:limit]!r}… ({len(value)} characters)"


def candidate_signatures(scheme: Scheme, value: str) -> list[str]:
    """The signatures listed in a header value (several are allowed, for key rotation)."""
    if scheme.construction is Construction.FIXED:
        return [value.strip()] if value.strip() else []
    if not scheme.timestamped:
        return [p.removeprefix("sha256=").lower() for p in value.replace(",", " ").split()]
    return [p[3:] for p in value.split() if p.startswith("v1,")]


def _well_formed(scheme: Scheme, signature: str) -> bool:
    if scheme.construction is Construction.FIXED:
        return True
    if not scheme.timestamped:
        # strip() removes every hex digit in C: nothing left means all 64 were hex (a per-request check).
        return len(signature) == 64 and not signature.strip("0123456789abcdef")
    try:
        return len(base64.b64decode(signature, validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


def is_token(value: str) -> bool:
    """A value of base64 or base64url characters long enough to be a signature of some other construction."""
    return len(value) >= MIN_TOKEN_LENGTH and _TOKEN_ALPHABET.issuperset(value)


def any_matches(expected: str, candidates: list[str]) -> bool:
    # Check every candidate (no early exit) so timing does not reveal which one matched.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected.encode(), candidate.encode())
    return matched


def verify(
    scheme_name: str,
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    clock: Clock = time.time,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> Verification:
    """Verify `body` against the signature headers; the result says why it failed.

    `auto`: under whichever scheme the headers carry and the secret fits (X-Webhook-Signature: the hex HMAC
    of the body, or the fixed value)."""
    if scheme_name.lower() == AUTO:
        return _verify_auto(secret, body, headers, clock=clock, tolerance=tolerance)
    scheme = get_scheme(scheme_name)
    value = header_lookup(headers, scheme.signature_header)
    if value is None:
        other = detect_scheme(headers)
        hint = (
            f"the request carries {get_scheme(other).signature_header}: try --scheme {other}"
            if other and get_scheme(other).signature_header != scheme.signature_header
            else "the sender did not sign this request; is signing on for this webhook?"
        )
        return Verification(scheme.name, Reason.MISSING_HEADER, f"no {scheme.signature_header} header", hint)
    if scheme.construction is Construction.FIXED:
        return _verify_fixed(scheme, secret, body, value)
    msg_id, ts = "", ""
    skew: float | None = None
    if scheme.timestamped:
        found = _timestamp_headers(scheme, headers)
        if isinstance(found, Verification):
            return found
        msg_id, ts = found
        skew = int(ts) - clock()
    candidates = candidate_signatures(scheme, value)
    well_formed = [c for c in candidates if _well_formed(scheme, c)]
    if not well_formed:
        return _not_well_formed(scheme, secret, value, skew)
    content = signed_content(scheme, body, msg_id, ts)
    signed_label = f"{msg_id}.{ts}.<body>" if scheme.timestamped else "<raw body>"
    if not any_matches(digest(scheme, cached_key(scheme, secret), content), well_formed):
        from whatsable_cli.webhooks.mismatch import explain_mismatch  # only when it failed

        reason, detail, hint = explain_mismatch(scheme, secret, body, msg_id, ts, well_formed)
        return Verification(scheme.name, Reason(reason), detail, hint, skew, signed_label)
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


def _timestamp_headers(scheme: Scheme, headers: Mapping[str, str]) -> tuple[str, str] | Verification:
    """The id and timestamp a timestamped scheme signs, or the verdict when they are missing or malformed."""
    assert scheme.id_header is not None
    assert scheme.timestamp_header is not None
    found_id = header_lookup(headers, scheme.id_header)
    found_ts = header_lookup(headers, scheme.timestamp_header)
    if found_id is None or found_ts is None:
        missing = scheme.id_header if found_id is None else scheme.timestamp_header
        return Verification(scheme.name, Reason.MISSING_HEADER, f"no {missing} header")
    if not found_id:
        return Verification(scheme.name, Reason.MALFORMED_HEADER, f"{scheme.id_header} is empty", "re-sign the request")
    if parse_timestamp(found_ts) is None:
        return Verification(
            scheme.name,
            Reason.MALFORMED_HEADER,
            f"{scheme.timestamp_header} is {shown(found_ts)}, not Unix seconds",
            f"a timestamp is 1 to {MAX_TIMESTAMP_DIGITS} ASCII digits; re-sign the request",
        )
    return found_id, found_ts


def _not_well_formed(scheme: Scheme, secret: str, value: str, skew: float | None) -> Verification:
    """No signature of this scheme's shape: another construction's value, or a broken one."""
    header = scheme.signature_header
    if not scheme.timestamped and is_token(value.strip()):
        # WhatsAble's current page shows a 171-character base64url value here: a construction, not a typo.
        token = value.strip()
        if hmac.compare_digest(token.encode(), secret.encode()):
            return Verification(
                scheme.name,
                Reason.OTHER_SCHEME,
                f"{header} carries the secret itself (a fixed value), not an HMAC of the body",
                "that is the whatsable-static scheme: use --scheme whatsable-static, or auto",
                skew,
            )
        return Verification(
            scheme.name,
            Reason.MISMATCH,
            f"{header} holds {shown(token)}, not the 64 hex characters of an HMAC-SHA256",
            "WhatsAble's current docs show such a value: try --scheme auto, or find its construction with "
            "`whatsable verify --explain`",
            skew,
        )
    shape = "v1,<base64 of 32 bytes>" if scheme.timestamped else "64 lowercase hex characters"
    return Verification(
        scheme.name,
        Reason.MALFORMED_HEADER,
        f"{header} holds no well-formed signature (expected {shape})",
        "the header was truncated or built by hand; re-sign the request",
        skew,
    )


def _verify_fixed(scheme: Scheme, secret: str, body: bytes, value: str) -> Verification:
    """A fixed value: equal to the secret, compared in constant time; the body is not part of it."""
    key = cached_key(scheme, secret)  # an empty secret is bad input here as under every scheme
    token = value.strip()
    if not token:
        return Verification(
            scheme.name, Reason.MALFORMED_HEADER, f"{scheme.signature_header} is empty", "re-send the request"
        )
    if hmac.compare_digest(token.encode(), key):
        return Verification(scheme.name, Reason.VALID, "the value matches the secret")
    from whatsable_cli.webhooks.mismatch import explain_fixed_mismatch  # only when it failed

    reason, detail, hint = explain_fixed_mismatch(scheme, secret, body, token)
    return Verification(scheme.name, Reason(reason), detail, hint)


def _verify_auto(secret: str, body: bytes, headers: Mapping[str, str], *, clock: Clock, tolerance: int) -> Verification:
    """Each scheme whose header the request carries, in table order: the first that verifies wins; else the
    failure of the one the value's shape belongs to."""
    candidates = schemes_for_headers(headers)
    if not candidates:
        return verify(DEFAULT_SCHEME, secret, body, headers, clock=clock, tolerance=tolerance)
    failures: list[Verification] = []
    for scheme in candidates:
        try:
            result = verify(scheme.name, secret, body, headers, clock=clock, tolerance=tolerance)
        except BadInputError:
            if len(candidates) == 1:
                raise  # the secret cannot serve the only scheme the request uses: the caller says so
            continue
        if result.ok:
            return result
        failures.append(result)
    if not failures:
        check_secret(candidates[0].name, secret)  # raises: no candidate could use the secret
    return _most_telling(failures, headers)


def _most_telling(failures: list[Verification], headers: Mapping[str, str]) -> Verification:
    """Of the failures under each candidate scheme, the one whose construction the value looks like: for
    X-Webhook-Signature, the HMAC's when the value is 64 hex characters, else the fixed value's."""
    by_name = {failure.scheme: failure for failure in failures}
    hmac_failure, fixed_failure = by_name.get("whatsable-hmac"), by_name.get("whatsable-static")
    if hmac_failure is None or fixed_failure is None:
        return failures[0]
    hmac_scheme = SCHEMES["whatsable-hmac"]
    value = header_lookup(headers, hmac_scheme.signature_header) or ""
    hex_like = any(_well_formed(hmac_scheme, c) for c in candidate_signatures(hmac_scheme, value))
    return hmac_failure if hex_like else fixed_failure
