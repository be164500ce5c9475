"""How one received event looks: a pretty headline, a compact line, a JSON object, and the --show-body details."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group, RenderableType
from rich.json import JSON
from rich.text import Text

from whatsable_cli.delivery.results import DeliveryResult
from whatsable_cli.listen.model import EventReport, ListenInfo
from whatsable_cli.render.pump import Line
from whatsable_cli.render.text import first_line, local_clock, plural, short_id
from whatsable_cli.webhooks.events import (
    EVENT_KINDS,
    KIND_OUTGOING,
    KIND_UNKNOWN,
    ParsedEvent,
    chronological,
    decode_last_messages,
)
from whatsable_cli.webhooks.summary import Role, shorten, summary_parts

KIND_STYLES = {"message_status": "cyan", "incoming_message": "magenta", KIND_OUTGOING: "blue"}
STATUS_STYLES = {"sent": "white", "delivered": "green", "read": "bold green", "failed": "bold red"}


def clock(received_at: str) -> str:
    """The local wall-clock time of an ISO timestamp (HH:MM:SS): render.text's one time rule."""
    return local_clock(received_at)


def short_request_id(request_id: str) -> str:
    """Enough of a recorded request's id for `whatsable events show ID` (a unique prefix is enough)."""
    return short_id(request_id)


def status_style(status: int | None) -> str:
    if status is None:
        return "bold red"
    return "green" if status < 300 else "yellow" if status < 500 else "red"


# How each piece of an event's summary (webhooks.summary owns the words) is styled here.
ROLE_STYLES = {
    Role.MESSAGE_ID: "dim",
    Role.ERROR: "red",
    Role.DIRECTION: "bold cyan",
    Role.NAME: "bold",
    Role.PHONE: "dim",
    Role.CONTENT_TYPE: "magenta",
    Role.SENDER: "cyan",
    Role.REFERRAL: "bold yellow",
    Role.LINK: "blue underline",
    Role.UNKNOWN: "yellow",
}


def _summary(parsed: ParsedEvent, text: Line) -> None:
    for part in summary_parts(parsed):
        if part.role is Role.STATUS:
            text.append(part.text, STATUS_STYLES.get(part.text, "yellow"))
        else:
            text.append(part.text, ROLE_STYLES.get(part.role, ""))


def describe(report: EventReport, text: Line) -> None:
    """What matters about the event, appended to a line."""
    parsed, request = report.parsed, report.request
    if parsed.kind in (*EVENT_KINDS, KIND_UNKNOWN):
        _summary(parsed, text)
    elif parsed.kind == "too_large":
        text.append(f"body of {plural(request.body_size, 'byte')} over --max-body, not kept", "red")
    else:
        text.append(f"{parsed.error or parsed.kind} ({plural(request.body_size, 'byte')}, kept raw)", "red")


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
        primary = report.forwards[0] if report.forwards else None
        if primary is not None and primary.status is None and report.answer_status in (502, 504):
            # relayed: the sender got this because the app did not answer (the forward line names it)
            text.append(" (app timed out)" if report.answer_status == 504 else " (app down)", "red")


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
    answer = app_answer(result)
    if answer:
        text.append(f"  answered: {answer}", "yellow")
    if redelivery_attempt is not None:
        text.append(f"  (redelivered from the queue, attempt {redelivery_attempt})", "yellow")
    return text


def app_answer(result: DeliveryResult) -> str:
    """The first line of what the app answered, when it answered something other than 2xx (else nothing)."""
    if result.status is None or 200 <= result.status < 300 or not result.response_snippet:
        return ""
    return first_line(result.response_snippet)


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
        answer = app_answer(result)
        if answer:
            text.append(f" {answer}", "yellow")
    for _ in report.queued_for:
        text.append("  queued", "yellow")
    return text


def transcript(data: dict[str, Any]) -> Text:
    """`last_messages` (a JSON string or an array) as a short chat transcript, oldest first, the last ten."""
    text = Text()
    for message in chronological(decode_last_messages(data))[-10:]:
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
    if report.parsed.kind in ("incoming_message", KIND_OUTGOING) and report.parsed.data is not None:
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


def ready_json(info: ListenInfo) -> dict[str, Any]:
    """The first NDJSON line of `listen --json`: where it listens, so a script can use --port 0."""
    return {
        "type": "ready",
        "port": info.port,
        "local_url": info.local_webhook_url,
        "public_url": info.public_webhook_url,
        "health_url": info.health_url,
        "inspector_url": info.inspector_url,
        "recording": str(info.recording) if info.recording else None,
        "history": str(info.history) if info.history else None,
        "verifying": info.secret_set,
        "scheme": info.scheme,
        "forward_to": list(info.routing.targets),
    }


def redelivery_json(request_id: str, result: DeliveryResult, attempt: int) -> dict[str, Any]:
    return {"type": "redelivery", "request_id": request_id, "attempt": attempt, **result.to_dict()}


def dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
