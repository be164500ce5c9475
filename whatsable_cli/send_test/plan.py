"""send-test's plan: which events to send, how each is signed or forged, and what each must get back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from whatsable_cli.errors import BadInputError
from whatsable_cli.send_test.scenarios import Expectation, Scenario, ScenarioStep
from whatsable_cli.send_test.sender import USER_AGENT, OutboundRequest
from whatsable_cli.send_test.verdicts import Check
from whatsable_cli.webhooks.events import EVENT_KINDS, PayloadFormat, parse_body
from whatsable_cli.webhooks.fixtures import load_payload_source
from whatsable_cli.webhooks.overrides import apply_overrides, apply_overrides_to_body, to_body
from whatsable_cli.webhooks.signing import Clock, get_scheme, sign
from whatsable_cli.webhooks.synthetic import SyntheticEvents, variants_for

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
    scenario: Scenario | None = None  # its steps replace the deliveries
    payload_format: PayloadFormat = PayloadFormat.ENVELOPE  # which of WhatsAble's two payload families


@dataclass(frozen=True)
class Step:
    """One check and how to build its request; built just before sending so timestamps are fresh."""

    check: Check
    build: Callable[[], OutboundRequest]
    delay_s: float = 0.0  # wait this long before building and sending it (a scenario step's delay)
    expect: Expectation | None = None  # a scenario step's own expectations, over the run's criteria
    skip: str | None = None  # why this check is not sent: it is reported skipped, never silently left out


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
    """--body-file, else --fixture, else a --scenario's events, else synthetic events (default: delivered + text)."""
    given = [
        settings.body is not None,
        bool(settings.fixtures),
        settings.scenario is not None,
        _synthetic_flags(settings),
    ]
    if sum(given) > 1:
        raise BadInputError(
            "choose one of --body-file, --fixture, --scenario, or --event/--status/--content-type/--all-variants",
            hint="they all say what to send; combine --set and --repeat with any of them",
            code="conflicting_sources",
        )
    if settings.body is not None:
        return [_fixed(settings.body_label, settings.body, settings.overrides)]
    if settings.fixtures:
        return [
            _fixed(name, load_payload_source(name, settings.payload_format), settings.overrides)
            for name in settings.fixtures
        ]
    if settings.scenario is not None:
        if settings.payload_format is not PayloadFormat.ENVELOPE:
            raise BadInputError(
                "--scenario sends envelope events: --format flat does not apply to it",
                hint="drop --format flat, or send flat events with --event/--content-type/--all-variants",
                code="conflicting_sources",
            )
        return _scenario_sources(settings.scenario, events, settings.overrides)
    prefix = "flat/" if settings.payload_format is PayloadFormat.FLAT else ""  # as the fixture names say it
    return [
        Source(f"{prefix}{event}/{variant}", _synthetic(events, event, variant, settings.overrides), event)
        for event, variant in _variants(settings)
    ]


def _synthetic_flags(settings: SendTestSettings) -> bool:
    return any((settings.event, settings.status, settings.content_type, settings.all_variants))


def _variants(settings: SendTestSettings) -> list[tuple[str, str]]:
    """What --event/--status/--content-type/--all-variants ask for, in the family --format chose."""
    return variants_for(
        settings.payload_format, settings.event, settings.status, settings.content_type, settings.all_variants
    )


def _synthetic(events: SyntheticEvents, event: str, variant: str, overrides: tuple[str, ...]) -> Callable[[], bytes]:
    def make() -> bytes:
        return to_body(apply_overrides(events.build(event, variant), overrides))

    return make


def _scenario_sources(scenario: Scenario, events: SyntheticEvents, overrides: tuple[str, ...]) -> list[Source]:
    """One source per kind of event the scenario sends (its first step of each): what the security and
    semantics checks forge and repeat."""
    firsts: dict[str, ScenarioStep] = {}
    for step in scenario.steps:
        firsts.setdefault(step.label, step)
    return [
        Source(label, _synthetic(events, step.event, step.variant, (*overrides, *step.overrides)), step.event)
        for label, step in firsts.items()
    ]


def _fixed(label: str, raw: bytes, overrides: tuple[str, ...]) -> Source:
    body = apply_overrides_to_body(raw, overrides, label)  # a bad --set fails now, before anything is sent
    return Source(label, lambda: body, _event_of(body))


def _event_of(raw: bytes) -> str | None:
    """The event a fixed body holds, in either family (None when it is no WhatsAble event)."""
    kind = parse_body(raw).kind
    return kind if kind in EVENT_KINDS else None


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
