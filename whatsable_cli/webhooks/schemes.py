"""The signature schemes as a table (headers, construction), their secrets and keys, and detection from headers."""

from __future__ import annotations

import base64
import binascii
import functools
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from whatsable_cli.errors import BadInputError

AUTO = "auto"  # not a scheme: verify with whichever scheme the request's headers (and the secret) fit
DEFAULT_SCHEME = "whatsable-hmac"  # what send-test and replay sign with unless told otherwise
DEFAULT_TOLERANCE_SECONDS = 300
WHSEC_PREFIX = "whsec_"
# Unix seconds have 10 digits until the year 2286; 12 leave room for leading zeros and keep every value a
# float can subtract from the clock without overflowing.
MAX_TIMESTAMP_DIGITS = 12
# The size of the value WhatsAble's current page shows in X-Webhook-Signature: 128 bytes, 171 base64url
# characters without padding. A fixed-value secret made here has the same form.
FIXED_SECRET_BYTES = 128


class Construction(StrEnum):
    """How a scheme's signature is made."""

    HMAC_HEX = "hmac-sha256-hex"  # lowercase hex HMAC-SHA256 of the raw body, keyed with the secret's text
    FIXED = "fixed-value"  # the same value on every request: the secret itself, compared in constant time
    STANDARD = "standard-webhooks-v1"  # base64 HMAC-SHA256 of "id.timestamp.body", whsec_ key base64-decoded


@dataclass(frozen=True)
class Scheme:
    """One signature scheme: its headers and its construction (a table entry)."""

    name: str
    signature_header: str
    construction: Construction
    id_header: str | None = None
    timestamp_header: str | None = None
    description: str = ""

    @property
    def timestamped(self) -> bool:
        return self.timestamp_header is not None

    @property
    def signs_body(self) -> bool:
        """False for a fixed value: it proves who sent the request, not that its body was left alone."""
        return self.construction is not Construction.FIXED

    @property
    def header_names(self) -> tuple[str, ...]:
        names = (self.id_header, self.timestamp_header, self.signature_header)
        return tuple(n for n in names if n is not None)


SCHEMES: dict[str, Scheme] = {
    "whatsable-hmac": Scheme(
        "whatsable-hmac",
        signature_header="X-Webhook-Signature",
        construction=Construction.HMAC_HEX,
        description="X-Webhook-Signature: hex HMAC-SHA256 of the raw body, key = secret as UTF-8 "
        "(an earlier version of WhatsAble's message webhooks page)",
    ),
    "whatsable-static": Scheme(
        "whatsable-static",
        signature_header="X-Webhook-Signature",
        construction=Construction.FIXED,
        description="X-Webhook-Signature: a value fixed per webhook, equal to the signature_secret, compared "
        "in constant time (WhatsAble's current message webhooks page)",
    ),
    "standard": Scheme(
        "standard",
        signature_header="webhook-signature",
        construction=Construction.STANDARD,
        id_header="webhook-id",
        timestamp_header="webhook-timestamp",
        description="Standard Webhooks v1: webhook-signature: v1,<base64 HMAC of id.timestamp.body>",
    ),
    "svix": Scheme(
        "svix",
        signature_header="svix-signature",
        construction=Construction.STANDARD,
        id_header="svix-id",
        timestamp_header="svix-timestamp",
        description="Svix: Standard Webhooks with svix- header names",
    ),
}
# Names kept working for configs written before the two WhatsAble constructions had names of their own.
ALIASES = {"whatsable": "whatsable-hmac"}

# Header names (lower case) that carry secrets-derived values; displays redact them.
SIGNATURE_HEADER_NAMES = frozenset(s.signature_header.lower() for s in SCHEMES.values())


def scheme_names(*, with_auto: bool = False, with_aliases: bool = False) -> tuple[str, ...]:
    """The names a --scheme option takes, in table order."""
    return (*((AUTO,) if with_auto else ()), *SCHEMES, *(ALIASES if with_aliases else ()))


def canonical_name(name: str) -> str:
    """The scheme's own name for a name or an alias, lower-cased; unknown names come back lowered as they are."""
    lowered = name.lower()
    return ALIASES.get(lowered, lowered)


def get_scheme(name: str) -> Scheme:
    """Look a scheme up by name or alias, or fail with the list of valid names."""
    try:
        return SCHEMES[canonical_name(name)]
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


def schemes_for_headers(headers: Mapping[str, str]) -> list[Scheme]:
    """Every scheme whose signature header the request carries, in table order (X-Webhook-Signature fits
    both WhatsAble constructions)."""
    # Direct lookups first: a case-insensitive multidict (the listener's, once per request) answers here.
    found = [scheme for scheme in SCHEMES.values() if scheme.signature_header in headers]
    if found:
        return found
    lowered = {name.lower() for name in headers}  # a plain dict spelt in another case: one pass over it
    return [scheme for scheme in SCHEMES.values() if scheme.signature_header.lower() in lowered]


def detect_scheme(headers: Mapping[str, str]) -> str | None:
    """The first scheme whose signature header is present; None when none is."""
    found = schemes_for_headers(headers)
    return found[0].name if found else None


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
        raise empty_key_error()
    return key


def empty_key_error() -> BadInputError:
    return BadInputError(
        "the secret is empty: a signature keyed with nothing can be made by anyone",
        hint="use the secret your sender shows, or generate one with `whatsable secret generate`",
        code="empty_secret",
    )


def signing_key(scheme: Scheme, secret: str) -> bytes:
    """The key bytes for the scheme (for a fixed value, the value); bad input when the secret gives none.

    An empty whsec_ key is refused under the text-keyed schemes too: its text is no secret either."""
    if scheme.construction is Construction.STANDARD:
        return decode_whsec(secret)
    if not secret or is_empty_whsec(secret):
        raise empty_key_error()
    return secret.encode("utf-8")


@functools.lru_cache(maxsize=8)  # once per request on the listener: the secret does not change
def cached_key(scheme: Scheme, secret: str) -> bytes:
    return signing_key(scheme, secret)


def check_secret(scheme_name: str, secret: str) -> None:
    """Refuse, before any work, a secret that cannot sign or verify under the named scheme."""
    signing_key(get_scheme(DEFAULT_SCHEME if scheme_name.lower() == AUTO else scheme_name), secret)


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

    With `auto` each request picks its scheme, so a plain (non-whsec) secret is fine for X-Webhook-Signature
    (either WhatsAble construction); what it cannot do, verify Standard Webhooks or Svix requests, is
    returned as a warning to show once rather than a failure found on every such request."""
    check_secret(scheme_name, secret)
    if scheme_name.lower() != AUTO:
        return None
    try:
        decode_whsec(secret)
    except BadInputError:
        return (
            "the secret is not a Standard Webhooks key (whsec_ followed by base64): requests signed with "
            "webhook-signature or svix-signature cannot be verified with it, only X-Webhook-Signature"
        )
    return None


def parse_timestamp(text: str) -> int | None:
    """Unix seconds from a timestamp header: 1 to MAX_TIMESTAMP_DIGITS ASCII digits, else None.

    str.isdigit() and int() also take other scripts' digits and superscripts ('²'), and an unbounded run
    of digits overflows a float; both must be a malformed header, not a crash."""
    if not 0 < len(text) <= MAX_TIMESTAMP_DIGITS or not text.isascii() or not text.isdigit():
        return None
    return int(text)


def new_message_id() -> str:
    """A fresh Standard Webhooks message id (never contains '.')."""
    return "msg_" + secrets.token_urlsafe(18).replace("-", "x").replace("_", "y")


def generate_secret(scheme_name: str = DEFAULT_SCHEME) -> str:
    """A fresh random secret of the right form for the scheme."""
    scheme = get_scheme(scheme_name)
    if scheme.construction is Construction.STANDARD:
        return WHSEC_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()
    if scheme.construction is Construction.FIXED:
        return base64.urlsafe_b64encode(secrets.token_bytes(FIXED_SECRET_BYTES)).decode().rstrip("=")
    return secrets.token_hex(32)
