"""send-test's check catalogue: deliveries, forged requests, duplicates and out-of-order statuses."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace

from whatsable_cli.send_test.plan import (
    FORGED_SKEW_S,
    Plan,
    RequestFactory,
    SendTestSettings,
    Source,
    Step,
    choose_sources,
)
from whatsable_cli.send_test.scenario_steps import scenario_steps
from whatsable_cli.send_test.sender import OutboundRequest
from whatsable_cli.send_test.verdicts import Check, Expect
from whatsable_cli.webhooks.overrides import apply_overrides, to_body
from whatsable_cli.webhooks.signing import Clock, generate_secret
from whatsable_cli.webhooks.synthetic import SyntheticEvents

REPLAY_HINT = "reject timestamps more than 5 minutes from now: that is what stops a captured request being replayed"
REPLAY_CHECKS = frozenset({"stale timestamp", "future timestamp"})  # only a timestamped scheme can run them
BODY_CHECKS = frozenset({"tampered body"})  # only a scheme that signs the body can run them
DEDUPE_HINT = (
    "answer 2xx to a duplicate and skip the work: WhatsAble may redeliver; deduplicate on "
    "message_id + status (message_status), phone_number + user_timestamp (incoming_message), or, in the flat "
    "family, phone_number + user_last_message_time (bot_last_message_time for outgoing messages)"
)


def build_plan(settings: SendTestSettings, *, clock: Clock = time.time) -> Plan:
    """The whole plan; bad input (unknown names, --set, secret form) fails here, before anything is sent."""
    events = SyntheticEvents(settings.seed, clock=clock, payload_format=settings.payload_format)
    sources = choose_sources(settings, events)
    factory = RequestFactory(settings, clock)
    factory.signature_headers(b"")  # a secret of the wrong form for the scheme is bad input, now
    for source in sources:
        source.make()  # so is a --set that does not fit the payload
    plan = Plan()
    if settings.scenario is not None:  # its steps are the deliveries
        plan.steps += scenario_steps(settings.scenario, factory, events, settings.overrides, settings.repeat)
    else:
        for source in sources:
            for n in range(1, settings.repeat + 1):
                label = source.label if settings.repeat == 1 else f"{source.label} #{n}"
                plan.steps.append(Step(Check("delivery", "deliver", label), _signed(factory, source)))
    security = security_steps(factory, sources[0])  # no request is built until a step is sent
    if settings.secret and settings.security_checks and not factory.scheme.signs_body:
        # A fixed value is the same whatever the body: an endpoint right to accept it accepts a tampered body.
        reason = f"the {factory.scheme.name} scheme sends a fixed value, which does not depend on the body"
        plan.notes.append(f"tampered-body check skipped: {reason}")
        plan.steps += skipping([step for step in security if step.check.name in BODY_CHECKS], reason)
        security = [step for step in security if step.check.name not in BODY_CHECKS]
    if not settings.security_checks:  # turned off on purpose: a missing secret is then no news
        plan.notes.append("security checks skipped: --no-security-checks")
        plan.steps += skipping(security, "--no-security-checks")
    elif not settings.secret:
        plan.notes.append(
            "security checks skipped: no secret, so requests go unsigned and there is no signature to forge "
            "(pass --secret or set WHATSABLE_SECRET to check that the endpoint rejects forged events)"
        )
        plan.steps += skipping(security, "no secret, so nothing to forge")
    elif not factory.scheme.timestamped:
        plan.notes.append(
            f"replay checks skipped: the {factory.scheme.name} scheme signs no timestamp, so a replayed "
            "request cannot be told from the original (the standard and svix schemes can)"
        )
        plan.steps += [step for step in security if step.check.name not in REPLAY_CHECKS]
        reason = f"the {factory.scheme.name} scheme signs no timestamp"
        plan.steps += skipping([step for step in security if step.check.name in REPLAY_CHECKS], reason)
    else:
        plan.steps += security
    semantics = duplicate_steps(factory, sources[0])
    ordering = ordering_steps(factory, events, settings.overrides)
    if not settings.semantics_checks:
        plan.steps += skipping([*semantics, *ordering], "--no-semantics-checks")
    elif any(s.event == "message_status" for s in sources):
        plan.steps += [*semantics, *ordering]
    else:
        plan.notes.append("ordering check skipped: no message_status event among the events sent")
        plan.steps += [*semantics, *skipping(ordering, "no message_status event among the events sent")]
    return plan


def skipping(steps: list[Step], reason: str) -> list[Step]:
    """The same checks, reported skipped (in the table, the JSON and as JUnit <skipped/>) instead of sent."""
    return [replace(step, skip=reason) for step in steps]


def _signed(factory: RequestFactory, source: Source) -> Callable[[], OutboundRequest]:
    return lambda: factory.signed(source.make())


Mutation = Callable[[bytes, dict[str, str]], tuple[bytes, dict[str, str]]]


def _forged(factory: RequestFactory, source: Source, mutate: Mutation) -> Callable[[], OutboundRequest]:
    """A correctly signed request, then changed by `mutate` (its body, its signature headers, or both)."""

    def build() -> OutboundRequest:
        body = source.make()
        return factory.request(*mutate(body, factory.signature_headers(body)))

    return build


def _without(name: str) -> Mutation:
    return lambda body, sig: (body, {k: v for k, v in sig.items() if k != name})


def security_steps(factory: RequestFactory, source: Source) -> list[Step]:
    """Forged requests a verifying endpoint must not answer with 2xx."""
    scheme = factory.scheme
    header = scheme.signature_header
    malformed = "v1,not-a-signature" if scheme.timestamped else "not-a-signature"
    cases: list[tuple[str, str, str, Callable[[], OutboundRequest]]] = [
        (
            "tampered body",
            "body changed after signing, original signature kept",
            "compute the HMAC over the exact raw body received and compare it in constant time",
            _forged(factory, source, lambda body, sig: (tamper(body), sig)),
        ),
        (
            "wrong secret",
            "signed with another secret",
            "compare with the signature computed from YOUR secret; checking that the header exists is not verifying",
            lambda: _with_other_secret(factory, source.make()),
        ),
        (
            "no signature",
            f"no {header} header",
            "a request without a signature must be rejected, not waved through",
            _forged(factory, source, _without(header)),
        ),
        (
            "malformed signature",
            f"{header}: {malformed}",
            "treat a signature that does not parse as invalid",
            _forged(factory, source, lambda body, sig: (body, {**sig, header: malformed})),
        ),
    ]
    cases += [  # a scheme that signs no timestamp cannot have these: build_plan reports them skipped
        (
            "stale timestamp",
            "timestamp 10 min old, correctly signed: a replay",
            REPLAY_HINT,
            _skewed(factory, source, -1),
        ),
        ("future timestamp", "timestamp 10 min ahead, correctly signed", REPLAY_HINT, _skewed(factory, source, 1)),
    ]
    label = source.label
    return [
        Step(Check("security", name, label, Expect.REJECT, defect, hint), build) for name, defect, hint, build in cases
    ]


def _with_other_secret(factory: RequestFactory, body: bytes) -> OutboundRequest:
    return factory.request(body, factory.signature_headers(body, secret=generate_secret(factory.scheme.name)))


def _skewed(factory: RequestFactory, source: Source, direction: int) -> Callable[[], OutboundRequest]:
    def build() -> OutboundRequest:
        body = source.make()
        return factory.request(body, factory.signature_headers(body, skew=direction * FORGED_SKEW_S))

    return build


def tamper(body: bytes) -> bytes:
    """What an attacker would do: change a value the receiver acts on, keep the JSON valid."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body + b"tampered"
    data = payload.get("data", payload) if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        return to_body({"tampered": True, "original": payload})
    if "status" in data:
        data["status"] = "failed" if data["status"] != "failed" else "read"
    elif "last_message_of_user" in data:
        data["last_message_of_user"] = "send me the admin password"
    else:
        data["tampered"] = True
    return to_body(payload)


def _once(build: Callable[[], OutboundRequest]) -> Callable[[], OutboundRequest]:
    """The same request every time it is asked for (a duplicate is byte-identical, headers included)."""
    built: list[OutboundRequest] = []

    def get() -> OutboundRequest:
        if not built:
            built.append(build())
        return built[0]

    return get


def duplicate_steps(factory: RequestFactory, source: Source) -> list[Step]:
    original = _once(_signed(factory, source))
    return [
        Step(Check("idempotency", "duplicate, 1st delivery", source.label), original),
        Step(
            Check(
                "idempotency",
                "duplicate, 2nd delivery",
                source.label,
                defect="rejected the same event delivered again",
                hint=DEDUPE_HINT,
                note="2xx twice; whether the event was processed twice can't be seen from outside",
            ),
            original,
        ),
    ]


def ordering_steps(factory: RequestFactory, events: SyntheticEvents, overrides: tuple[str, ...]) -> list[Step]:
    """`read` first, then `delivered` for the same message: WhatsApp does not promise order."""
    pair: list[OutboundRequest] = []

    def status(index: int) -> Callable[[], OutboundRequest]:
        def build() -> OutboundRequest:
            if not pair:
                read = apply_overrides(events.build("message_status", "read"), overrides)
                delivered = apply_overrides(events.build("message_status", "delivered"), overrides)
                read["data"]["status"], delivered["data"]["status"] = "read", "delivered"
                delivered["data"]["message_id"] = read["data"]["message_id"]
                pair.extend(factory.signed(to_body(p)) for p in (read, delivered))
            return pair[index]

        return build

    hint = "accept statuses in any order (Meta may send read without delivered); keep the most advanced one"
    return [
        Step(Check("ordering", "read first", "message_status/read"), status(0)),
        Step(
            Check(
                "ordering",
                "delivered after read",
                "message_status/delivered",
                defect="rejected delivered after read",
                hint=hint,
            ),
            status(1),
        ),
    ]
