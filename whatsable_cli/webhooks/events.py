"""What WhatsAble sends: both payload families, a body classified as an event, and a signature verdict. No I/O."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# The envelope family's `event` values (WhatsAble's webhooks guide: {"event": ..., "data": {...}}).
EVENT_TYPES = ("message_status", "incoming_message")
# What a body can be classified as: the envelope's two events, and an outgoing message, which only the flat
# family has (a flat body with `incoming_message: false`).
KIND_OUTGOING = "outgoing_message"
EVENT_KINDS = (*EVENT_TYPES, KIND_OUTGOING)
STATUSES = ("sent", "delivered", "read", "failed")
CONTENT_TYPES = ("text", "image", "audio", "video", "document", "location")

# What a parsed body turned out to be, beyond the event kinds.
KIND_UNKNOWN = "unknown"  # JSON, but not an event we know
KIND_NOT_JSON = "not_json"
KIND_EMPTY = "empty"

# Fields of the flat family (WhatsAble's message webhooks and Bot webhooks pages). A body with no `event`
# is taken for a flat conversation snapshot when it has `last_messages` or `conversation_paragraph`, or at
# least two of these: one alone (a `phone_number` in someone else's JSON) says too little.
FLAT_FIELDS = frozenset(
    {
        "last_messages",
        "conversation_paragraph",
        "phone_number",
        "recipient_name",
        "user_id",
        "last_message_of_user",
        "last_message_of_bot",
        "message_type",
        "user_last_message_time",
        "bot_last_message_time",
        "attachment_url",
        "note",
        "note_automation",
        "labels",
        "incoming_message",
        "send_by",
        "was_message_by_human",
        "referral",
    }
)
_FLAT_SURE_SIGNS = ("last_messages", "conversation_paragraph")

JsonObject = dict[str, Any]


class PayloadFormat(StrEnum):
    """The two payload families WhatsAble documents."""

    ENVELOPE = "envelope"  # the webhooks guide: {"event": ..., "data": {...}}
    FLAT = "flat"  # the message webhooks and Bot pages: the fields at the top level, no event name


@dataclass(frozen=True)
class ParsedEvent:
    """What a request body holds, with the fields a developer looks at first."""

    kind: str
    data: JsonObject | None = None
    flat: bool = False  # WhatsAble's flat form: data fields at the top level, no "event"
    raw_event: str | None = None  # the "event" value as sent, also when it is unknown
    error: str | None = None  # why the body did not parse

    def field(self, name: str) -> Any:
        return None if self.data is None else self.data.get(name)

    @property
    def family(self) -> PayloadFormat | None:
        """Which payload family the body belongs to; None when it is no WhatsAble event."""
        if self.kind not in EVENT_KINDS:
            return None
        return PayloadFormat.FLAT if self.flat else PayloadFormat.ENVELOPE

    @property
    def message_id(self) -> str | None:
        value = self.field("message_id")
        return None if value is None else str(value)

    @property
    def status(self) -> str | None:
        value = self.field("status")
        return None if value is None else str(value)

    @property
    def phone(self) -> str | None:
        """`phone_number` as digits: WhatsAble sends it as a string or a number, with or without '+'."""
        return normalise_phone(self.field("phone_number"))

    @property
    def dedupe_key(self) -> str | None:
        """The key a receiver deduplicates on, where WhatsAble documents one; None where it does not.

        A status: message id + status. A flat message: `phone_number` + `user_last_message_time`, the key the
        Bot webhooks page names. An outgoing message takes `bot_last_message_time` instead: every message the
        business sends between two of the contact's shares the user's time (WhatsAble's two outgoing examples
        do), so the documented key would call the second one a duplicate of the first. The envelope's
        incoming message has no documented key: only an identical body is the same event.
        """
        if self.kind == "message_status":
            return f"status:{self.message_id}:{self.status}" if self.message_id else None
        if not self.flat or self.kind not in ("incoming_message", KIND_OUTGOING):
            return None
        outgoing = self.kind == KIND_OUTGOING
        when = self.field("bot_last_message_time" if outgoing else "user_last_message_time")
        phone = self.phone
        if phone is None or when is None or isinstance(when, dict | list):
            return None
        return f"{'out' if outgoing else 'in'}:{phone}:{when}"


def normalise_phone(value: Any) -> str | None:
    """Digits of a phone number given as a string or a JSON number; None when there is none."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip().removeprefix("+")
    return text or None


def parse_body(body: bytes, text: str | None = None) -> ParsedEvent:
    """Classify a body as an event of either family, an unknown JSON value, or not JSON at all.

    `text`: the body already decoded as UTF-8, when the caller has it (json skips detecting the encoding).
    """
    if not body.strip():
        return ParsedEvent(KIND_EMPTY, error="empty body")
    try:
        payload = json.loads(body if text is None else text)
    except (ValueError, UnicodeDecodeError) as exc:
        return ParsedEvent(KIND_NOT_JSON, error=f"not JSON: {exc}")
    except RecursionError:  # valid JSON, maybe, but nested deeper than the parser goes
        return ParsedEvent(KIND_NOT_JSON, error="not JSON this tool can read: nested too deeply")
    if not isinstance(payload, dict):
        return ParsedEvent(KIND_UNKNOWN, error=f"JSON {type(payload).__name__}, not an object")
    event = payload.get("event")
    data = payload.get("data")
    if isinstance(event, str):
        kind = event if event in EVENT_TYPES and isinstance(data, dict) else KIND_UNKNOWN
        return ParsedEvent(kind, data if isinstance(data, dict) else None, raw_event=event)
    return parse_flat(payload)


def parse_flat(payload: JsonObject) -> ParsedEvent:
    """WhatsAble's flat payload (no envelope): an incoming or outgoing message, or a bare status update.

    Direction is `incoming_message`: `false` is a message the business sent; `true`, or no such field (the
    Bot page's examples carry none), one the contact sent."""
    if "status" in payload and "message_id" in payload:
        # the shape of WhatsAble's WebSocket status messages; no webhook page shows a flat status
        return ParsedEvent("message_status", payload, flat=True)
    if any(sign in payload for sign in _FLAT_SURE_SIGNS) or len(FLAT_FIELDS.intersection(payload)) >= 2:
        kind = KIND_OUTGOING if payload.get("incoming_message") is False else "incoming_message"
        return ParsedEvent(kind, payload, flat=True)
    return ParsedEvent(KIND_UNKNOWN, payload, error="no 'event' field, and not a flat WhatsAble payload")


def decode_last_messages(data: JsonObject) -> list[JsonObject]:
    """`last_messages`: a JSON *string* in most deliveries, a real array on some pages; the items either way."""
    value = data.get("last_messages")
    if isinstance(value, list):
        return [m for m in value if isinstance(m, dict)]
    if not isinstance(value, str):
        return []
    try:
        decoded = json.loads(value)
    except (ValueError, RecursionError):
        return []
    return [m for m in decoded if isinstance(m, dict)] if isinstance(decoded, list) else []


def chronological(messages: list[JsonObject]) -> list[JsonObject]:
    """The messages oldest first: the flat pages list the newest first, the envelope's examples the oldest.

    ISO 8601 UTC times sort as text; items without one keep their place relative to each other."""
    return sorted(messages, key=lambda m: str(m.get("timestamp", "")))


@dataclass
class SignatureCheck:
    """How a received request's signature came out: verified, failed (with the reason) or unsigned."""

    result: str  # "verified" | "failed" | "unsigned" | "unchecked" (no secret set)
    scheme: str | None = None
    reason: str | None = None
    detail: str | None = None
