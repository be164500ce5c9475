"""`verify --explain`: try every construction the tool knows on one captured request and name the one that matched."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from whatsable_cli.errors import BadInputError
from whatsable_cli.webhooks.mismatch import reserialisations
from whatsable_cli.webhooks.schemes import (
    SCHEMES,
    SIGNATURE_HEADER_NAMES,
    WHSEC_PREFIX,
    Scheme,
    header_lookup,
)
from whatsable_cli.webhooks.signing import Reason, any_matches, digest, signed_content, verify

ALGORITHMS = ("sha256", "sha512", "sha1")
# Prefixes senders put before a signature (GitHub's `sha256=`, Standard Webhooks' `v1,`, Stripe's `v1=`).
_PREFIXES = ("sha256=", "sha512=", "sha1=", "v1=", "v1,")
_ENCODINGS: dict[str, Callable[[bytes], str]] = {
    "hex": bytes.hex,
    "base64": lambda mac: base64.b64encode(mac).decode(),
    "base64 unpadded": lambda mac: base64.b64encode(mac).decode().rstrip("="),
    "base64url": lambda mac: base64.urlsafe_b64encode(mac).decode(),
    "base64url unpadded": lambda mac: base64.urlsafe_b64encode(mac).decode().rstrip("="),
}
REPORT_HINT = "whatsable has no scheme for this construction yet: please report it, with this output"


@dataclass(frozen=True)
class Attempt:
    """One construction tried against one header: how it is made and whether it gave the header's value."""

    header: str
    kind: str  # "fixed" | "hmac" | "standard" | "svix"
    matched: bool
    algorithm: str | None = None  # sha256 | sha512 | sha1
    encoding: str | None = None  # hex | base64 | base64url (padded or not)
    key: str | None = None  # text | base64 | base64url | hex | whsec (the key after whsec_, decoded)
    content: str | None = None  # what was signed: the raw body, a re-serialised copy, id.timestamp.body
    scheme: str | None = None  # the whatsable scheme that verifies this construction, when there is one
    note: str | None = None

    @property
    def description(self) -> str:
        if self.kind == "fixed":
            return f"a fixed value: {self.note or 'the secret itself'}"
        key = _KEY_WORDS.get(self.key or "", self.key or "")
        return f"{self.encoding} of HMAC-{(self.algorithm or '').upper()}({key}, {self.content})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "header": self.header,
            "construction": self.description,
            "kind": self.kind,
            "algorithm": self.algorithm,
            "encoding": self.encoding,
            "key": self.key,
            "content": self.content,
            "scheme": self.scheme,
            "note": self.note,
            "matched": self.matched,
        }


_KEY_WORDS = {
    "text": "key = the secret as text",
    "base64": "key = the secret base64-decoded",
    "base64url": "key = the secret base64url-decoded",
    "hex": "key = the secret hex-decoded",
    "whsec": "key = the base64 after whsec_, decoded",
}


@dataclass(frozen=True)
class Explanation:
    """Every construction tried on a captured request, and which of them made its signature."""

    attempts: tuple[Attempt, ...]
    headers: tuple[str, ...]  # the signature headers examined

    @property
    def matches(self) -> list[Attempt]:
        return [a for a in self.attempts if a.matched]

    def to_dict(self) -> dict[str, Any]:
        return {
            "matched": [a.to_dict() for a in self.matches],
            "tried": len(self.attempts),
            "headers": list(self.headers),
            "attempts": [a.to_dict() for a in self.attempts],
        }


def explain_request(secret: str, body: bytes, headers: Mapping[str, str], *, tolerance: int = 300) -> Explanation:
    """Try every construction whatsable knows on each signature header of one captured request."""
    attempts: list[Attempt] = []
    examined: list[str] = []
    timestamped = {s.signature_header.lower(): s for s in SCHEMES.values() if s.timestamped}
    for name, value in _signature_headers(headers):
        examined.append(name)
        scheme = timestamped.get(name.lower())
        if scheme is not None:
            attempts += _timestamped_attempts(scheme, secret, body, headers, tolerance)
        else:
            attempts += _body_attempts(name, value, secret, body)
    return Explanation(tuple(attempts), tuple(examined))


def _signature_headers(headers: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    """Headers that carry a signature: the schemes' own, and any other named like one (X-Hub-Signature-256)."""
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in SIGNATURE_HEADER_NAMES or "signature" in lowered or "hmac" in lowered:
            yield name, value


def _tokens(value: str) -> list[str]:
    """The signatures a header value may hold: each space- or comma-separated part, with and without a prefix."""
    found: list[str] = []
    for part in [*value.replace(",", " ").split(), value.strip()]:
        for candidate in (part, *(part[len(p) :] for p in _PREFIXES if part.startswith(p))):
            if candidate and candidate not in found:
                found.append(candidate)
    return found


def _keys(secret: str) -> list[tuple[str, bytes]]:
    """The secret read every way a sender might key an HMAC with it, each distinct reading once."""
    keys: list[tuple[str, bytes]] = [("text", secret.encode())]
    bare = secret.removeprefix(WHSEC_PREFIX)
    padded = bare + "=" * (-len(bare) % 4)
    readings: list[tuple[str, Callable[[], bytes]]] = [
        ("base64", lambda: base64.b64decode(padded, validate=True)),
        ("base64url", lambda: base64.b64decode(padded, altchars=b"-_", validate=True)),
        ("hex", lambda: bytes.fromhex(bare)),
    ]
    for label, read in readings:
        try:
            key = read()
        except (binascii.Error, ValueError):
            continue
        if key and all(key != known for _, known in keys):
            keys.append((label, key))
    return keys


def _same(expected: str, tokens: list[str], *, fold_case: bool = False) -> bool:
    wanted = expected.lower() if fold_case else expected
    return any_matches(wanted, [t.lower() if fold_case else t for t in tokens])


def _body_attempts(header: str, value: str, secret: str, body: bytes) -> list[Attempt]:
    tokens = _tokens(value)
    is_whatsable = header.lower() == SCHEMES["whatsable-hmac"].signature_header.lower()
    attempts = [
        Attempt(
            header,
            "fixed",
            _same(secret, tokens),
            scheme="whatsable-static" if is_whatsable else None,
            note="the secret itself",
        )
    ]
    if secret.strip() != secret:
        attempts.append(Attempt(header, "fixed", _same(secret.strip(), tokens), note="the secret without whitespace"))
    attempts.append(Attempt(header, "fixed", _same_bytes(secret, tokens), note="the secret's bytes, re-encoded"))
    contents = [("the raw body", body)] + [("a re-serialised copy of the JSON", f) for f in reserialisations(body)]
    for key_label, key in _keys(secret):
        for algorithm in ALGORITHMS:
            for content_label, content in contents:
                if content_label != "the raw body" and algorithm != "sha256":
                    continue  # re-serialisation is a mistake to spot, not a construction to search widely
                mac = hmac.new(key, content, getattr(hashlib, algorithm)).digest()
                for encoding, encode in _ENCODINGS.items():
                    matched = _same(encode(mac), tokens, fold_case=encoding == "hex")
                    known = is_whatsable and (algorithm, encoding, key_label, content_label) == (
                        "sha256",
                        "hex",
                        "text",
                        "the raw body",
                    )
                    attempts.append(
                        Attempt(
                            header,
                            "hmac",
                            matched,
                            algorithm,
                            encoding,
                            key_label,
                            content_label,
                            "whatsable-hmac" if known else None,
                        )
                    )
    return attempts


def _same_bytes(secret: str, tokens: list[str]) -> bool:
    """The token and the secret decode to the same bytes under some base64 alphabet (but differ as text)."""
    secret_bytes = {key for label, key in _keys(secret) if label != "text"}
    for token in tokens:
        if token == secret:
            continue
        padded = token + "=" * (-len(token) % 4)
        for altchars in (None, b"-_"):
            try:
                decoded = base64.b64decode(padded, altchars=altchars, validate=True)
            except (binascii.Error, ValueError):
                continue
            if any(hmac.compare_digest(decoded, known) for known in secret_bytes):
                return True
    return False


def _timestamped_attempts(
    scheme: Scheme, secret: str, body: bytes, headers: Mapping[str, str], tolerance: int
) -> list[Attempt]:
    """Standard Webhooks (or Svix): verified as such, key decoded from whsec_ or, the common mistake, its text."""
    header = scheme.signature_header
    kind = "svix" if scheme.name == "svix" else "standard"
    content = f"{scheme.id_header}.{scheme.timestamp_header}.body"
    attempts: list[Attempt] = []
    try:
        result = verify(scheme.name, secret, body, headers, tolerance=tolerance)
    except BadInputError:
        result = None  # not a whsec_ key: only the text reading below can apply
    stale = result is not None and result.reason in (Reason.STALE_TIMESTAMP, Reason.FUTURE_TIMESTAMP)
    attempts.append(
        Attempt(
            header,
            kind,
            result is not None and (result.ok or stale),
            "sha256",
            "base64",
            "whsec",
            content,
            scheme.name,
            f"signed {abs(result.skew_seconds or 0):.0f} s from now: outside ±{tolerance} s, fine for a capture"
            if stale and result is not None
            else None,
        )
    )
    attempts.append(
        Attempt(header, kind, _text_keyed(scheme, secret, body, headers), "sha256", "base64", "text", content)
    )
    return attempts


def _text_keyed(scheme: Scheme, secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """The Standard Webhooks construction keyed with the secret's text (whsec_ and all)."""
    assert scheme.id_header is not None
    assert scheme.timestamp_header is not None
    msg_id = header_lookup(headers, scheme.id_header)
    ts = header_lookup(headers, scheme.timestamp_header)
    value = header_lookup(headers, scheme.signature_header) or ""
    if msg_id is None or ts is None or not secret:
        return False
    expected = digest(scheme, secret.encode(), signed_content(scheme, body, msg_id, ts))
    return any_matches(expected, [p[3:] for p in value.split() if p.startswith("v1,")])
