"""How one received event looks: a pretty headline, a compact line, a JSON object, and the --show-body details."""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.json import JSON
from rich.text import Text

from whatsable_cli.delivery.results import DeliveryResult
from whatsable_cli.listen.model import EventReport
from whatsable_cli.render.pump import Line
from whatsable_cli.webhooks.events import ParsedEvent, decode_last_messages

KIND_STYLES = {"message_status": "cyan", "incoming_message": "magenta"}
STATUS_STYLES = {"sent": "white", "delivered": "green", "read": "bold green", "failed": "bold red"}
MAX_TEXT = 60


def clock(received_at: str) -> str:
    """The local wall-clock time of an ISO timestamp (HH:MM:SS)."""
    return _local_second(received_at[:19])  # a burst shares its second: convert each second once


@functools.lru_cache(maxsize=8)
def _local_second(utc_second: str) -> str:
    try:
        return datetime.fromisoformat(utc_second + "+00:00").astimezone().strftime("%H:%M:%S")
    except ValueError:
        return utc_second[11:19]


def shorten(value: object, limit: int = MAX_TEXT) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_id(message_id: str) -> str:
    """WhatsApp ids share a long prefix: keep the start and the distinguishing end."""
    return message_id if len(message_id) <= 32 else f"{message_id[:10]}…{message_id[-16:]}"


def short_request_id(request_id: str) -> str:
    """Enough of a recorded request's id for `whatsable events show ID` (a unique prefix is enough)."""
    return request_id[:8]


def status_style(status: int | None) -> str:
    if status is None:
        return "bold red"
    return "green" if status < 300 else "yellow" if status < 500 else "red"


def _status_fields(parsed: ParsedEvent, text: Line) -> None:
    status = parsed.status or "?"
    text.append(status, STATUS_STYLES.get(status, "yellow"))
    if parsed.message_id:
        text.append(f"  {short_id(parsed.message_id)}", "dim")
    error = parsed.field("error")
    if isinstance(error, dict):
        text.append(f"  {error.get('code', '?')}: {shorten(error.get('message', ''))}", "red")


def _incoming_fields(parsed: ParsedEvent, text: Line) -> None:
    name, phone = parsed.field("recipient_name"), parsed.field("phone_number")
    if name:
        text.append(str(name), "bold")
    if phone is not None:
        text.append(f" +{str(phone).lstrip('+')}", "dim")
    kind = parsed.field("message_type") or "text"
    message = parsed.field("last_message_of_user")
    text.append(f"  {kind}", "magenta")
    if message:
        text.append(f": {shorten(message)!r}" if kind == "text" else f": {shorten(message)}")
    attachment = parsed.field("attachment_url")
    if attachment:
        text.append(f"  {attachment}", "blue underline")  # whole: it is something to click


def describe(report: EventReport, text: Line) -> None:
    """What matters about the event, appended to a line."""
    parsed, request = report.parsed, report.request
    if parsed.kind == "message_status":
        _status_fields(parsed, text)
    elif parsed.kind == "incoming_message":
        _incoming_fields(parsed, text)
    elif parsed.kind == "unknown":
        raw = f"event {parsed.raw_event!r}" if parsed.raw_event else (parsed.error or "not an event")
        text.append(f"unknown: {shorten(raw)}", "yellow")
    elif parsed.kind == "too_large":
        text.append(f"body of {request.body_size} bytes over --max-body, not kept", "red")
    else:
        text.append(f"{parsed.error or parsed.kind} ({request.body_size} bytes, kept raw)", "red")


def badges(report: EventReport, text: Line) -> None:
    signature = report.request.signature
    if signature is not None and signature.result != "unchecked":
        if signature.result == "verified":
            text.append("  ✓ verified", "green")
        elif signature.result == "failed":
            text.append(f"  ✗ signature {signature.reason}", "bold red")
        else:
            text.append("  unsigned", "yellow")
    for flag in report.request.flags:
        if flag in ("duplicate", "rejected", "other_path", "other_method"):
            text.append(f"  [{flag.replace('_', ' ')}]", "bold yellow" if flag == "duplicate" else "bold red")
    if report.answer_status != 200:
        text.append(f"  → {report.answer_status}", status_style(report.answer_status))


def headline(report: EventReport) -> Line:
    request = report.request
    text = Line(f"{clock(request.received_at)}  ", "dim")
    if "other_path" in request.flags or "other_method" in request.flags:
        text.append(f"{request.method} {shorten(request.path, 40)}  ", "bold red")
    text.append(f"{report.parsed.kind:<17}", KIND_STYLES.get(report.parsed.kind, "yellow"))
    describe(report, text)
    badges(report, text)
    text.append(f"  {short_request_id(request.id)}", "dim")
    return text


def forward_line(result: DeliveryResult, *, redelivery_attempt: int | None = None) -> Line:
    """`[200] POST http://localhost:3000/webhook 12 ms`, the status coloured."""
    label = str(result.status) if result.status is not None else "---"
    text = Line("    ")
    text.append(f"[{label}]", status_style(result.status))
    text.append(f" POST {result.url}")
    if result.latency_ms is not None:
        text.append(f" {result.latency_ms:.0f} ms", "dim")
    if result.error:
        text.append(f"  {result.error}", "red")
    if redelivery_attempt is not None:
        text.append(f"  (redelivered from the queue, attempt {redelivery_attempt})", "yellow")
    return text


def queued_line(url: str) -> Line:
    return Line("    ").append("[queued]", "yellow").append(f" {url}  target down: redelivered when it answers")


def compact_line(report: EventReport) -> Line:
    """One line per event, forwards included."""
    text = headline(report)
    for result in report.forwards:
        label = str(result.status) if result.status is not None else (result.error_code or "error")
        text.append(f"  {label}", status_style(result.status))
        if result.latency_ms is not None:
            text.append(f" {result.latency_ms:.0f}ms", "dim")
    for _ in report.queued_for:
        text.append("  queued", "yellow")
    return text


def transcript(data: dict[str, Any]) -> Text:
    """`last_messages` (a JSON string in WhatsAble's payloads) as a short chat transcript."""
    text = Text()
    for message in decode_last_messages(data)[-10:]:
        who = "User" if message.get("type") == "user" else "Bot "
        when = str(message.get("timestamp", ""))[11:19]
        content = shorten(message.get("content", ""), 100)
        kind = message.get("content_type", "text")
        text.append(f"    {when} {who} ", "bold magenta" if who == "User" else "bold cyan")
        text.append(content if kind == "text" else f"[{kind}] {content}")
        if message.get("media_url"):
            text.append(f" {message['media_url']}", "blue")
        text.append("\n")
    text.rstrip()
    return text


def body_details(report: EventReport) -> RenderableType:
    """--show-body: the pretty JSON, the chat transcript, and the app's response snippet."""
    parts: list[RenderableType] = []
    body = report.request.body
    if report.request.body_encoding == "utf-8" and body:
        try:
            parts.append(JSON(body, indent=2))
        except ValueError:
            parts.append(Text(shorten(body, 2000)))
    if report.parsed.kind == "incoming_message" and report.parsed.data is not None:
        chat = transcript(report.parsed.data)
        if chat.plain:
            parts.append(Text("  conversation:", "dim"))
            parts.append(chat)
    for result in report.forwards:
        if result.response_snippet:
            parts.append(Text(f"  {result.url} answered: {shorten(result.response_snippet, 300)}", "dim"))
    parts.append(Text(""))  # a blank line between events, which are now several lines each
    return Group(*parts)


def event_json(report: EventReport) -> dict[str, Any]:
    """One NDJSON object per received event, carrying its forward results."""
    request, parsed = report.request, report.parsed
    signature = request.signature
    return {
        "type": "event",
        "id": request.id,
        "received_at": request.received_at,
        "method": request.method,
        "path": request.path,
        "event_type": parsed.kind,
        "raw_event": parsed.raw_event,
        "status": report.answer_status,
        "signature": None if signature is None else {k: v for k, v in vars(signature).items() if v is not None},
        "duplicate": report.duplicate,
        "flags": request.flags,
        "body_size": request.body_size,
        "data": parsed.data,
        "forwards": [result.to_dict() for result in report.forwards],
        "queued_for": report.queued_for,
    }


def redelivery_json(request_id: str, result: DeliveryResult, attempt: int) -> dict[str, Any]:
    return {"type": "redelivery", "request_id": request_id, "attempt": attempt, **result.to_dict()}


def dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
