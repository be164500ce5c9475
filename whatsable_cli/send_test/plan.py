"""send-test's plan: which events to send, how each is signed or forged, and what each must get back."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from whatsable_cli.errors import BadInputError
from whatsable_cli.send_test.sender import USER_AGENT, OutboundRequest
from whatsable_cli.send_test.verdicts import Check
from whatsable_cli.webhooks.events import CONTENT_TYPES, EVENT_TYPES, STATUSES
from whatsable_cli.webhooks.fixtures import DEFAULT_VARIANT, check_choice, load_payload_source
from whatsable_cli.webhooks.overrides import apply_overrides, apply_overrides_to_body, to_body
from whatsable_cli.webhooks.signing import Clock, get_scheme, sign
from whatsable_cli.webhooks.synthetic import SyntheticEvents

DEFAULT_HEADERS = (("Content-Type", "application/json"), ("User-Agent", USER_AGENT))
FORGED_SKEW_S = 600  # 10 minutes: well outside the ±300 s every timestamped scheme allows


@dataclass(frozen=True)
class SendTestSettings:
    """Everything `whatsable send-test` was asked to do, already parsed."""

    url: str
    event: str | None = None
    status: str | None = None
    content_type: str | None = None
    fixtures: tuple[str, ...] = ()
    all_variants: bool = False
    body: bytes | None = None  # --body-file, sent byte for byte unless --set changes it
    body_label: str = "body-file"
    overrides: tuple[str, ...] = ()
    seed: int | None = None
    repeat: int = 1
    secret: str | None = None
    scheme: str = "whatsable"
    headers: tuple[tuple[str, str], ...] = ()
    security_checks: bool = True
    semantics_checks: bool = True


@dataclass(frozen=True)
class Step:
    """One check and how to build its request; built just before sending so timestamps are fresh."""

    check: Check
    build: Callable[[], OutboundRequest]


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what will not be checked, and why


@dataclass(frozen=True)
class Source:
    """Where the bodies of one event come from: fresh synthetic events, or fixed bytes."""

    label: str
    make: Callable[[], bytes]
    event: str | None = None


def choose_sources(settings: SendTestSettings, events: SyntheticEvents) -> list[Source]:
    """--body-file, else --fixture, else synthetic events (default: delivered + text)."""
    given = [bool(settings.body is not None), bool(settings.fixtures), _synthetic_flags(settings)]
    if sum(given) > 1:
        raise BadInputError(
            "choose one of --body-file, --fixture, or --event/--status/--content-type/--all-variants",
            hint="they all say what to send; combine --set and --repeat with any of them",
            code="conflicting_sources",
        )
    if settings.body is not None:
        return [_fixed(settings.body_label, settings.body, settings.overrides)]
    if settings.fixtures:
        return [_fixed(name, load_payload_source(name), settings.overrides) for name in settings.fixtures]
    return [
        Source(f"{event}/{variant}", _synthetic(events, event, variant, settings.overrides), event)
        for event, variant in _variants(settings)
    ]


def _synthetic_flags(settings: SendTestSettings) -> bool:
    return any((settings.event, settings.status, settings.content_type, settings.all_variants))


def _variants(settings: SendTestSettings) -> list[tuple[str, str]]:
    if settings.event is not None:
        check_choice("event", settings.event, EVENT_TYPES)
    if settings.status is not None:
        check_choice("status", settings.status, STATUSES)
    if settings.content_type is not None:
        check_choice("content type", settings.content_type, CONTENT_TYPES)
    chosen = {"message_status": settings.status, "incoming_message": settings.content_type}
    if settings.event is not None:
        other = next(e for e in EVENT_TYPES if e != settings.event)
        if chosen[other] is not None:
            flag = "--status" if other == "message_status" else "--content-type"
            raise BadInputError(
                f"{flag} applies to {other} events, not {settings.event}",
                hint=f"drop {flag}",
                code="conflicting_variant",
            )
        events = [settings.event]
    elif settings.status or settings.content_type:
        events = [e for e in EVENT_TYPES if chosen[e] is not None]
    else:
        events = list(EVENT_TYPES)
    pairs = []
    for event in events:
        every = STATUSES if event == "message_status" else CONTENT_TYPES
        variant = chosen[event]
        pairs += (
            [(event, v) for v in every]
            if settings.all_variants and variant is None
            else [(event, variant or DEFAULT_VARIANT[event])]
        )
    return pairs


def _synthetic(events: SyntheticEvents, event: str, variant: str, overrides: tuple[str, ...]) -> Callable[[], bytes]:
    def make() -> bytes:
        return to_body(apply_overrides(events.build(event, variant), overrides))

    return make


def _fixed(label: str, raw: bytes, overrides: tuple[str, ...]) -> Source:
    body = apply_overrides_to_body(raw, overrides, label)  # a bad --set fails now, before anything is sent
    return Source(label, lambda: body, _event_of(body))


def _event_of(raw: bytes) -> str | None:
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return payload.get("event") if isinstance(payload, dict) else None


class RequestFactory:
    """Signs (or deliberately mis-signs) bodies into the exact requests to send."""

    def __init__(self, settings: SendTestSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.scheme = get_scheme(settings.scheme)

    def signature_headers(self, body: bytes, *, secret: str | None = None, skew: int = 0) -> dict[str, str]:
        secret = secret or self.settings.secret
        if not secret:
            return {}
        return sign(self.scheme.name, secret, body, timestamp=int(self.clock()) + skew)

    def request(self, body: bytes, signature: dict[str, str]) -> OutboundRequest:
        """Defaults, then -H (replacing a default of the same name), then the signature headers."""
        extra = {name.lower() for name, _ in self.settings.headers}
        signing = {name.lower() for name in signature}
        headers = [(k, v) for k, v in DEFAULT_HEADERS if k.lower() not in extra]
        headers += [(k, v) for k, v in self.settings.headers if k.lower() not in signing]
        headers += signature.items()
        return OutboundRequest("POST", self.settings.url, headers, body)

    def signed(self, body: bytes) -> OutboundRequest:
        return self.request(body, self.signature_headers(body))
