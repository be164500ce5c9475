"""What replay sends for one item: the exact bytes, or `--set` edits; re-signed, or the recorded headers."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from whatsable_cli.delivery.client import header_problem
from whatsable_cli.errors import BadInputError
from whatsable_cli.replay.sources import ReplayItem
from whatsable_cli.webhooks.overrides import apply_overrides_to_body
from whatsable_cli.webhooks.signing import DEFAULT_TOLERANCE_SECONDS, SCHEMES, decode_whsec, get_scheme, sign

# Every header any scheme signs with: re-signing replaces all of them, so no stale signature rides along.
SIGNING_HEADERS = frozenset(name.lower() for scheme in SCHEMES.values() for name in scheme.header_names)
SIGNATURE_HEADERS = frozenset(scheme.signature_header.lower() for scheme in SCHEMES.values())
TIMESTAMP_HEADERS = frozenset(
    scheme.timestamp_header.lower() for scheme in SCHEMES.values() if scheme.timestamp_header is not None
)

_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP token (RFC 9110 §5.6.2)

# Why a kept signature can no longer verify (the keys of ReplaySummary.signature_warnings).
EDITED_SIGNATURE = "edited"
STALE_SIGNATURE = "stale"
WARNING_TEXT = {
    EDITED_SIGNATURE: "a --set edit changed the body but the recorded signature was kept: it will not verify "
    "(pass --resign to re-sign with your secret)",
    STALE_SIGNATURE: "the recorded signature's timestamp is older than the receiver's ±300 s tolerance: it "
    "will be rejected as stale (pass --resign to re-sign with a fresh timestamp)",
}


@dataclass(frozen=True)
class SigningPlan:
    """How to treat signatures: re-sign with a secret, or keep the recorded headers."""

    secret: str | None = None
    scheme: str = "whatsable"
    tolerance: int = DEFAULT_TOLERANCE_SECONDS
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        # An unknown scheme or a malformed whsec_ key is bad input before anything is sent.
        if get_scheme(self.scheme).timestamped and self.secret is not None:
            decode_whsec(self.secret)


@dataclass(slots=True)
class PreparedRequest:
    """The bytes and headers that will go out for one item."""

    item: ReplayItem
    body: bytes
    headers: list[tuple[str, str]]
    edited: bool = False
    resigned: bool = False
    warning: str | None = None  # EDITED_SIGNATURE / STALE_SIGNATURE when a kept signature will not verify


def _kept_signature_problem(headers: list[tuple[str, str]], edited: bool, plan: SigningPlan) -> str | None:
    signed, timestamp = False, None
    for name, value in headers:
        lowered = name.lower()
        if lowered in SIGNATURE_HEADERS:
            signed = True
        elif lowered in TIMESTAMP_HEADERS:
            timestamp = value
    if not signed:
        return None
    if edited:
        return EDITED_SIGNATURE
    if timestamp is not None and timestamp.isdigit() and plan.clock() - int(timestamp) > plan.tolerance:
        return STALE_SIGNATURE
    return None


def _check_sendable(item: ReplayItem) -> None:
    """A hand-edited recording cannot smuggle a second request in, nor stop the run: a token for a method, and
    headers the HTTP client can send exactly as recorded (one line each, text that encodes)."""
    problem = None if _METHOD.fullmatch(item.method) else f"an invalid method {item.method!r}"
    for name, value in item.headers:
        problem = header_problem(name, value) or problem
    if problem is None:
        return
    what = f"request {item.request_id}" if item.request_id else "the request"
    raise BadInputError(
        f"{item.origin}: {what} has {problem}",
        hint="fix the recording line (headers are [name, value] pairs of one line each, in UTF-8)",
        code="unsendable_request",
    )


def prepare(item: ReplayItem, sets: tuple[str, ...], plan: SigningPlan) -> PreparedRequest:
    """Byte for byte unless edited; with a secret every old signing header is replaced by fresh ones."""
    _check_sendable(item)
    edited = bool(sets)
    body = apply_overrides_to_body(item.body, sets, item.origin) if edited else item.body
    if plan.secret is None:
        return PreparedRequest(
            item, body, item.headers, edited, False, _kept_signature_problem(item.headers, edited, plan)
        )
    headers = [(k, v) for k, v in item.headers if k.lower() not in SIGNING_HEADERS]
    headers.extend(sign(plan.scheme, plan.secret, body, clock=plan.clock).items())
    return PreparedRequest(item, body, headers, edited, True)
