"""A scenario's steps as send-test checks: one fresh event each, with the ids the steps share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from whatsable_cli.send_test.plan import RequestFactory, Step
from whatsable_cli.send_test.scenarios import Scenario, ScenarioStep
from whatsable_cli.send_test.sender import OutboundRequest
from whatsable_cli.send_test.verdicts import Check
from whatsable_cli.webhooks.events import JsonObject
from whatsable_cli.webhooks.overrides import apply_overrides, to_body
from whatsable_cli.webhooks.synthetic import SyntheticEvents

GROUP = "scenario"
CONTACT_FIELDS = ("phone_number", "user_id", "recipient_name")


class Conversation:
    """The ids one run of a scenario shares: a message id per message alias, a contact per contact alias."""

    def __init__(self, events: SyntheticEvents) -> None:
        self.events = events
        self.message_ids: dict[str, str] = {}
        self.contacts: dict[str, dict[str, Any]] = {}
        self.last_user_timestamp: dict[str, int] = {}

    def payload(self, step: ScenarioStep) -> JsonObject:
        """A fresh event for the step, carrying the ids of the message or contact it names."""
        payload = self.events.build(step.event, step.variant)
        data: JsonObject = payload["data"]
        if step.event == "message_status":
            data["message_id"] = self.message_ids.setdefault(step.message, data["message_id"])
            return payload
        data.update(self.contacts.setdefault(step.contact, {name: data.get(name) for name in CONTACT_FIELDS}))
        # Receivers deduplicate incoming messages on phone number + user_timestamp: a contact's next message
        # must not share its second with the previous one, or it would pass for a redelivery of it.
        previous = self.last_user_timestamp.get(step.contact)
        if previous is not None and data["user_timestamp"] <= previous:
            shift = previous + 1 - data["user_timestamp"]
            data["user_timestamp"] += shift
            data["bot_timestamp"] += shift
        self.last_user_timestamp[step.contact] = data["user_timestamp"]
        return payload


def scenario_steps(
    scenario: Scenario, factory: RequestFactory, events: SyntheticEvents, overrides: tuple[str, ...], repeat: int = 1
) -> list[Step]:
    """Every step as a check, in order; with `repeat`, the whole scenario again with new ids each time."""
    steps = []
    for n in range(1, repeat + 1):
        conversation = Conversation(events)
        for step in scenario.steps:
            name = f"{step.index}. {step.name}" + ("" if repeat == 1 else f" #{n}")
            steps.append(
                Step(
                    Check(GROUP, name, step.label),
                    _build(conversation, step, factory, overrides),
                    delay_s=step.delay_s,
                    expect=step.expect,
                )
            )
    return steps


def _build(
    conversation: Conversation, step: ScenarioStep, factory: RequestFactory, overrides: tuple[str, ...]
) -> Callable[[], OutboundRequest]:
    def build() -> OutboundRequest:
        payload = apply_overrides(conversation.payload(step), (*overrides, *step.overrides))
        return factory.signed(to_body(payload))

    return build
