"""Synthetic events of either family: fresh ids and times on every call, consistent inside each event."""

from __future__ import annotations

import copy
import json
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from whatsable_cli.errors import BadInputError
from whatsable_cli.webhooks.events import (
    CONTENT_TYPES,
    EVENT_TYPES,
    KIND_OUTGOING,
    STATUSES,
    JsonObject,
    PayloadFormat,
    chronological,
    decode_last_messages,
)
from whatsable_cli.webhooks.fixtures import (
    AD_REFERRAL,
    DEFAULT_VARIANT,
    FLAT_DEFAULT_VARIANT,
    OUTGOING_VARIANTS,
    check_choice,
    find_fixture,
)

# A fixed "now" for seeded runs, so that `--seed N` reproduces the same bytes.
SEEDED_EPOCH = 1711230104.477
# What each family has: the envelope (the webhooks guide) statuses and incoming messages; the flat pages
# incoming messages (also from an ad) and outgoing ones, and no status webhook at all.
VARIANTS: dict[PayloadFormat, dict[str, tuple[str, ...]]] = {
    PayloadFormat.ENVELOPE: {"message_status": STATUSES, "incoming_message": CONTENT_TYPES},
    PayloadFormat.FLAT: {"incoming_message": (*CONTENT_TYPES, AD_REFERRAL), KIND_OUTGOING: OUTGOING_VARIANTS},
}
DEFAULTS = {PayloadFormat.ENVELOPE: DEFAULT_VARIANT, PayloadFormat.FLAT: FLAT_DEFAULT_VARIANT}
VAULT = "https://api.insightssystem.com/vault/"
PARAGRAPH_SEPARATOR = " ; "  # as every documented multi-message conversation_paragraph shows
# Seconds between the contact's message and the business's, drawn per event (the other one is older).
GAP_SECONDS = (20, 900)


def family_variants(payload_format: PayloadFormat, event: str) -> tuple[str, ...]:
    """The variants of one event in one family; bad input (with the way out) when the family has no such event."""
    events = VARIANTS[payload_format]
    if event in events:
        return events[event]
    if event == "message_status":
        raise BadInputError(
            "message_status has no flat form: WhatsAble documents status webhooks only in the envelope family",
            hint="drop --format flat to send statuses, or send incoming_message / outgoing_message events",
            code="no_such_variant",
        )
    if event == KIND_OUTGOING:
        raise BadInputError(
            "outgoing_message exists only in the flat family (WhatsAble's message webhooks pages)",
            hint="add --format flat",
            code="no_such_variant",
        )
    raise BadInputError(f"unknown event {event!r}", hint=f"valid events: {', '.join(events)}", code="unknown_choice")


def variants_for(
    payload_format: PayloadFormat,
    event: str | None = None,
    status: str | None = None,
    content_type: str | None = None,
    all_variants: bool = False,
) -> list[tuple[str, str]]:
    """The (event, variant) pairs `--event/--status/--content-type/--all-variants` ask for in a family: one of
    each event by default, every variant with `all_variants`; bad input names the way out."""
    family = VARIANTS[payload_format]
    if event is not None:
        family_variants(payload_format, event)
    if status is not None:
        check_choice("status", status, family_variants(payload_format, "message_status"))
    if content_type is not None:
        check_choice("content type", content_type, family["incoming_message"])
    chosen = {"message_status": status, "incoming_message": content_type}
    if event is not None:
        for other, flag in (("message_status", "--status"), ("incoming_message", "--content-type")):
            if other != event and chosen[other] is not None:
                raise BadInputError(
                    f"{flag} applies to {other} events, not {event}", hint=f"drop {flag}", code="conflicting_variant"
                )
        events = [event]
    elif status or content_type:
        events = [e for e in family if chosen.get(e) is not None]
    else:
        events = list(family)
    pairs: list[tuple[str, str]] = []
    for name in events:
        variant = chosen.get(name)
        every = family[name]
        pairs += (
            [(name, v) for v in every]
            if all_variants and variant is None
            else [(name, variant or DEFAULTS[payload_format][name])]
        )
    return pairs


def iso_time(seconds: float) -> str:
    """ISO 8601 in UTC with milliseconds, as WhatsAble's `timestamp` fields are written."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def paragraph_clock(seconds: float) -> str:
    """`9:41:44 PM`: the 12-hour UTC time conversation_paragraph shows for each message."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return f"{moment.hour % 12 or 12}:{moment:%M:%S} {'AM' if moment.hour < 12 else 'PM'}"


def shown_text(message: JsonObject) -> str:
    """How a message reads in the paragraph: its text, or `[Document]`-style for media without a caption."""
    kind = str(message.get("content_type") or "text")
    content = str(message.get("content") or "")
    if kind == "location" and content:
        return f"Location: {content}"
    return content or (f"[{kind.capitalize()}]" if kind != "text" else "")


class SyntheticEvents:
    """Builds fresh, realistic events: new ids, phone numbers and times on every call.

    Every time inside one event comes from one reading of the clock (or, with a seed, from a fixed epoch, so
    the sequence is reproducible to the byte); media URLs sit under the event's own user id; the messages are
    in the order the family's documents show (newest first in the flat family)."""

    def __init__(
        self,
        seed: int | None = None,
        clock: Callable[[], float] = time.time,
        payload_format: PayloadFormat = PayloadFormat.ENVELOPE,
    ) -> None:
        self._rng = random.Random(seed)
        self._seeded = seed is not None
        self._clock = clock
        self._calls = 0
        self.payload_format = PayloadFormat(payload_format)

    def _now(self) -> float:
        self._calls += 1
        return SEEDED_EPOCH + self._calls if self._seeded else float(self._clock())

    def _message_id(self) -> str:
        return "wamid." + "".join(self._rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", k=32))

    def build(self, event: str, variant: str | None = None, payload_format: PayloadFormat | None = None) -> JsonObject:
        """A fresh event of `event` (and `variant`) in the family chosen (by default the one set up)."""
        family = PayloadFormat(payload_format or self.payload_format)
        if family is PayloadFormat.ENVELOPE:
            check_choice("event", event, EVENT_TYPES, hint=f"{KIND_OUTGOING} exists only with --format flat")
        variants = family_variants(family, event)
        variant = variant or DEFAULTS[family][event]
        what = "status" if event == "message_status" else "content type" if variant in CONTENT_TYPES else "variant"
        check_choice(what, variant, variants)
        prefix = "flat/" if family is PayloadFormat.FLAT else ""
        payload = copy.deepcopy(find_fixture(f"{prefix}{event}/{variant}").load())
        now = self._now()
        if event == "message_status":
            payload["data"].update(message_id=self._message_id(), timestamp=iso_time(now))
            return payload
        data: JsonObject = payload["data"] if family is PayloadFormat.ENVELOPE else payload
        self._conversation(data, family, outgoing=event == KIND_OUTGOING, now=now)
        return payload

    def _conversation(self, data: JsonObject, family: PayloadFormat, *, outgoing: bool, now: float) -> None:
        """A contact and a two-message exchange, every field of it derived from `now` and the new user id."""
        messages = chronological(decode_last_messages(data))
        user = next((m for m in reversed(messages) if m.get("type") == "user"), None)
        bot = next((m for m in reversed(messages) if m.get("type") == "bot"), None)
        user_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        earlier = now - self._rng.randint(*GAP_SECONDS)
        user_time, bot_time = (earlier, now) if outgoing else (now, earlier)
        fresh_user = self._message("user", user, data.get("last_message_of_user"), user_time, user_id)
        # A contact who writes first (after tapping an ad) has no answer yet: no bot message, and a
        # bot_last_message_time of 0, as WhatsAble's Click-to-WhatsApp example shows.
        answered = outgoing or bot is not None or bool(data.get("last_message_of_bot"))
        fresh_bot = self._message("bot", bot, data.get("last_message_of_bot"), bot_time, user_id) if answered else None
        ordered = sorted((m for m in (fresh_user, fresh_bot) if m is not None), key=_seconds)  # oldest first
        if family is PayloadFormat.FLAT:
            ordered.reverse()  # the flat pages' examples list the newest first
        newest = fresh_bot if outgoing and fresh_bot is not None else fresh_user
        as_string = isinstance(data.get("last_messages"), str) or family is PayloadFormat.ENVELOPE
        data["last_messages"] = json.dumps(ordered, separators=(",", ":"), ensure_ascii=False) if as_string else ordered
        data["conversation_paragraph"] = PARAGRAPH_SEPARATOR.join(
            f"{'User' if m['type'] == 'user' else 'Bot'} ({paragraph_clock(_seconds(m))}): {shown_text(m)}"
            for m in ordered
        )
        phone = str(self._rng.choice((880, 1, 44, 91, 55, 234))) + str(self._rng.randrange(10**9, 10**10))
        data["phone_number"] = int(phone) if isinstance(data.get("phone_number"), int) else phone
        data["user_id"] = user_id
        data["last_message_of_user"] = _field_text(fresh_user)
        data["last_message_of_bot"] = _field_text(fresh_bot) if fresh_bot is not None else ""
        data["message_type"] = newest["content_type"]
        times = ("user_timestamp", "bot_timestamp") if family is PayloadFormat.ENVELOPE else None
        user_key, bot_key = times or ("user_last_message_time", "bot_last_message_time")
        data[user_key], data[bot_key] = int(user_time), int(bot_time) if fresh_bot is not None else 0
        data["attachment_url"] = newest.get("media_url")

    def _message(
        self, role: str, template: JsonObject | None, fallback: Any, seconds: float, user_id: str
    ) -> JsonObject:
        kind = str((template or {}).get("content_type") or "text")
        content = (template or {}).get("content")
        if content is None:
            content = "" if fallback is None else str(fallback)
        message: JsonObject = {"type": role, "content": content, "timestamp": iso_time(seconds), "content_type": kind}
        media = (template or {}).get("media_url")
        if media:
            message["media_url"] = f"{VAULT}{user_id[:8]}/{str(media).rstrip('/').rsplit('/', 1)[-1]}"
        return message


def _seconds(message: JsonObject) -> float:
    return datetime.fromisoformat(str(message["timestamp"]).replace("Z", "+00:00")).timestamp()


def _field_text(message: JsonObject) -> str:
    """last_message_of_user / _of_bot: the text or caption ('' for media without one), `Location: …` for a place."""
    kind, content = message.get("content_type"), str(message.get("content") or "")
    return f"Location: {content}" if kind == "location" and content else content
