"""The send-test service: build the plan, send each request, judge each answer, tell an observer."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from whatsable_cli.delivery.http_rules import check_http_url
from whatsable_cli.send_test.answers import judge_step
from whatsable_cli.send_test.checks import build_plan
from whatsable_cli.send_test.plan import Plan, SendTestSettings
from whatsable_cli.send_test.sender import OutboundRequest, Sender
from whatsable_cli.send_test.verdicts import STOPPING_ERRORS, Check, Criteria, Outcome, Report, skipped
from whatsable_cli.webhooks.signing import Clock


class SendTestObserver(Protocol):
    """What the renderer hears while the checks run (the service itself never prints)."""

    def started(self, total: int, notes: list[str]) -> None: ...

    def checked(self, outcome: Outcome) -> None: ...


def prepare(settings: SendTestSettings, *, clock: Clock = time.time) -> Plan:
    """Validate the URL and build the plan: every bad input fails here, before anything is sent."""
    check_http_url(settings.url, "URL", hint="e.g. https://example.com/webhook or http://127.0.0.1:8000/webhook")
    return build_plan(settings, clock=clock)


def planned_requests(plan: Plan) -> list[tuple[Check, OutboundRequest]]:
    """The exact requests a run would send, in order (signed now), with the check each one serves."""
    return [(step.check, step.build()) for step in plan.steps if step.skip is None]


def run_send_test(
    settings: SendTestSettings, criteria: Criteria, observer: SendTestObserver, *, clock: Clock = time.time
) -> Report:
    plan = prepare(settings, clock=clock)
    return asyncio.run(_run(plan, settings, criteria, observer))


async def _run(plan: Plan, settings: SendTestSettings, criteria: Criteria, observer: SendTestObserver) -> Report:
    report = Report(settings.url, settings.scheme if settings.secret else None, criteria, notes=list(plan.notes))
    observer.started(len(plan.steps), report.notes)
    stopped_by: Outcome | None = None
    async with Sender(timeout=criteria.timeout_s) as sender:
        for step in plan.steps:
            if step.skip is not None:
                outcome = skipped(step.check, step.skip)
            elif stopped_by is not None:
                outcome = skipped(step.check, f"{stopped_by.code} earlier")
            else:
                if step.delay_s:
                    await asyncio.sleep(step.delay_s)  # a scenario's pause between two events
                outcome = judge_step(step.check, step.expect, await sender.send(step.build()), criteria)
                if outcome.code in STOPPING_ERRORS:
                    stopped_by = outcome  # refused, DNS or TLS: every later request would fail the same way
            report.outcomes.append(outcome)
            observer.checked(outcome)
    return report
