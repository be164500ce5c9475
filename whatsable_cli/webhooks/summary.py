"""The one-line summary of an event, for every display (listen, events, replay, fixtures): one owner."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from whatsable_cli.webhooks.events import KIND_OUTGOING, KIND_UNKNOWN, ParsedEvent

MAX_TEXT = 60


class Role(StrEnum):
    """What a piece of a summary is, so a display can style it without knowing the payloads."""

    STATUS = "status"
    MESSAGE_ID = "message_id"
    ERROR = "error"
    DIRECTION = "direction"
    NAME = "name"
    PHONE = "phone"
    CONTENT_TYPE = "content_type"
    TEXT = "text"
    SENDER = "sender"
    REFERRAL = "referral"
    LINK = "link"
    UNKNOWN = "unknown"
    PLAIN = "plain"


@dataclass(frozen=True)
class Part:
    """One piece of a summary; the pieces joined make the plain-text summary."""

    text: str
    role: Role = Role.PLAIN


def shorten(value: object, limit: int = MAX_TEXT) -> str:
    """Whitespace collapsed (a message's newlines would break the line), cut with an ellipsis past `limit`."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_id(message_id: str) -> str:
    """WhatsApp ids share a long prefix: keep the start and the distinguishing end."""
    return message_id if len(message_id) <= 32 else f"{message_id[:10]}…{message_id[-16:]}"


def summary_parts(parsed: ParsedEvent) -> list[Part]:
    """The summary as styled pieces: a status, or who wrote what (and, outgoing, who sent it)."""
    if parsed.kind == "message_status":
        return _status_parts(parsed)
    if parsed.kind in ("incoming_message", KIND_OUTGOING):
        return _message_parts(parsed)
    if parsed.kind == KIND_UNKNOWN:
        said = f"event {parsed.raw_event!r}" if parsed.raw_event else (parsed.error or "not an event")
        return [Part(f"unknown: {shorten(said)}", Role.UNKNOWN)]
    return [Part(parsed.error or parsed.kind, Role.ERROR)]


def summarize(parsed: ParsedEvent) -> str:
    """The summary as one line of plain text."""
    return "".join(part.text for part in summary_parts(parsed))


def _status_parts(parsed: ParsedEvent) -> list[Part]:
    parts = [Part(parsed.status or "?", Role.STATUS)]
    if parsed.message_id:
        parts += [Part(" "), Part(short_id(parsed.message_id), Role.MESSAGE_ID)]
    error = parsed.field("error")
    if isinstance(error, dict):
        code, message = error.get("code", "?"), error.get("message", "")
        parts += [Part("  "), Part(f"error {code}: {shorten(message)}" if message else f"error {code}", Role.ERROR)]
    return parts


def _message_parts(parsed: ParsedEvent) -> list[Part]:
    """`John Doe +8801734363287: image: caption  <url>`; outgoing: `→ contact: what the business sent (by X)`."""
    outgoing = parsed.kind == KIND_OUTGOING
    parts = [Part("→ ", Role.DIRECTION)] if outgoing else []
    name, phone = parsed.field("recipient_name"), parsed.phone
    if name:
        parts.append(Part(shorten(name, 40), Role.NAME))
    if phone is not None:
        parts.append(Part(f"{' ' if name else ''}+{phone}", Role.PHONE))
    parts.append(Part(": " if name or phone is not None else ""))
    kind = str(parsed.field("message_type") or "text")
    text = parsed.field("last_message_of_bot" if outgoing else "last_message_of_user")
    if kind != "text" and not str(text or "").lower().startswith(kind):  # not `location: Location: …`
        parts.append(Part(kind + (": " if text else ""), Role.CONTENT_TYPE))
    if text:
        parts.append(Part(shorten(text), Role.TEXT))
    elif kind == "text":
        parts.append(Part("(no text)", Role.PLAIN))
    sender = parsed.field("send_by")
    if outgoing and sender:
        parts += [Part(" "), Part(f"(by {shorten(sender, 40)})", Role.SENDER)]
    referral = parsed.field("referral")
    if isinstance(referral, dict):
        about = referral.get("headline") or referral.get("source_id") or referral.get("source_url") or ""
        label = f"[{referral.get('source_type') or 'ad'}: {shorten(about, 40)}]" if about else "[ad referral]"
        parts += [Part("  "), Part(label, Role.REFERRAL)]
    attachment = parsed.field("attachment_url")
    if attachment:
        parts += [Part("  "), Part(str(attachment), Role.LINK)]  # whole: it is something to click
    return parts
