"""What WhatsAble sends: the event types, a body classified as one of them, and a signature verdict. No I/O."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

EVENT_TYPES = ("message_status", "incoming_message")
STATUSES = ("sent", "delivered", "read", "failed")
CONTENT_TYPES = ("text", "image", "audio", "video", "document", "location")

# What a parsed body turned out to be, beyond the two event types.
KIND_UNKNOWN = "unknown"  # JSON, but not an event we know
KIND_NOT_JSON = "not_json"
KIND_EMPTY = "empty"

JsonObject = dict[str, Any]


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
    def message_id(self) -> str | None:
        value = self.field("message_id")
        return None if value is None else str(value)

    @property
    def status(self) -> str | None:
        value = self.field("status")
        return None if value is None else str(value)

    @property
    def dedupe_key(self) -> str | None:
        """The key a receiver should deduplicate on (WhatsAble: message id + status, or phone + time)."""
        if self.kind == "message_status" and self.message_id:
            return f"status:{self.message_id}:{self.status}"
        if self.kind == "incoming_message":
            phone, when = self.field("phone_number"), self.field("user_timestamp")
            if phone is not None and when is not None:
                return f"in:{phone}:{when}"
        return None


def parse_body(body: bytes, text: str | None = None) -> ParsedEvent:
    """Classify a body as one of the event types, an unknown JSON value, or not JSON at all.

    `text`: the body already decoded as UTF-8, when the caller has it (json skips detecting the encoding).
    """
    if not body.strip():
        return ParsedEvent(KIND_EMPTY, error="empty body")
    try:
        payload = json.loads(body if text is None else text)
    except (ValueError, UnicodeDecodeError) as exc:
        return ParsedEvent(KIND_NOT_JSON, error=f"not JSON: {exc}")
    if not isinstance(payload, dict):
        return ParsedEvent(KIND_UNKNOWN, error=f"JSON {type(payload).__name__}, not an object")
    event = payload.get("event")
    data = payload.get("data")
    if isinstance(event, str):
        kind = event if event in EVENT_TYPES and isinstance(data, dict) else KIND_UNKNOWN
        return ParsedEvent(kind, data if isinstance(data, dict) else None, raw_event=event)
    return _parse_flat(payload)


def _parse_flat(payload: JsonObject) -> ParsedEvent:
    """WhatsAble's flat payload (no envelope): a status update or a conversation snapshot."""
    if "status" in payload and "message_id" in payload:
        return ParsedEvent("message_status", payload, flat=True)
    if "last_messages" in payload or "phone_number" in payload:
        return ParsedEvent("incoming_message", payload, flat=True)
    return ParsedEvent(KIND_UNKNOWN, payload, error="no 'event' field")


def decode_last_messages(data: JsonObject) -> list[JsonObject]:
    """`last_messages` is a JSON *string* in WhatsAble's payloads; decode it, tolerating a real list."""
    value = data.get("last_messages")
    if isinstance(value, list):
        return [m for m in value if isinstance(m, dict)]
    if not isinstance(value, str):
        return []
    try:
        decoded = json.loads(value)
    except ValueError:
        return []
    return [m for m in decoded if isinstance(m, dict)] if isinstance(decoded, list) else []


@dataclass
class SignatureCheck:
    """How a received request's signature came out: verified, failed (with the reason) or unsigned."""

    result: str  # "verified" | "failed" | "unsigned" | "unchecked" (no secret set)
    scheme: str | None = None
    reason: str | None = None
    detail: str | None = None
