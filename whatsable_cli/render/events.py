"""Renders recordings: the streamed `events list` rows, one request in full (`events show`), and exports."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from whatsable_cli.recording.lines import ForwardRecord, RecordedRequest
from whatsable_cli.recording.query import EventRow
from whatsable_cli.render.console import print_json, print_warning, stderr_console, stdout_console
from whatsable_cli.webhooks.events import ParsedEvent, decode_last_messages, parse_body
from whatsable_cli.webhooks.redaction import shown_headers

SHORT_ID = 8
_COLUMNS = (("id", SHORT_ID), ("received (UTC)", 19), ("event", 16), ("signature", 10), ("forwards", 14))
# A terminal under 120 columns: no event column (the summary starts with the status, or the sender's +phone),
# the time without the year, so the summary keeps about 35 characters at 80 columns instead of none.
_NARROW_COLUMNS = (("id", SHORT_ID), ("received (UTC)", 14), ("signature", 9), ("forwards", 8))
_NARROW_BELOW = 120
_SIGNATURE_STYLE = {"verified": "green", "failed": "bold red", "unsigned": "yellow", "unchecked": "dim"}


def warn_skipped_line(path: Path, line_no: int, why: str) -> None:
    """The on_skip callback for corrupt recording lines: a warning naming the file and line."""
    print_warning(f"{path}:{line_no}: {why}; skipped (--strict makes this an error)")


def key_field(parsed: ParsedEvent) -> str:
    """The field a developer looks at first: the status, or the sender and their text."""
    if parsed.kind == "message_status":
        error = parsed.field("error")
        code = f" (error {error.get('code')})" if isinstance(error, dict) else ""
        return f"{parsed.status}{code} {parsed.message_id or ''}".strip()
    if parsed.kind == "incoming_message":
        text = str(parsed.field("last_message_of_user") or parsed.field("message_type") or "")
        return f"+{parsed.field('phone_number')}: {text}"
    return parsed.error or parsed.kind


def _forward_text(forwards: list[ForwardRecord]) -> str:
    return " ".join(str(f.result.status or f.result.error_code or "error") for f in forwards) or "-"


def _time(received_at: str) -> str:
    return received_at[:19].replace("T", " ")


def row_json(row: EventRow) -> dict[str, Any]:
    request, parsed = row.request, parse_body(row.request.body_bytes)
    return {
        "id": request.id,
        "received_at": request.received_at,
        "method": request.method,
        "path": request.path,
        "event": request.event_type or parsed.kind,
        "status": parsed.status,
        "phone_number": parsed.field("phone_number"),
        "summary": key_field(parsed),
        "signature": request.signature.result if request.signature else None,
        "body_size": request.body_size or len(request.body_bytes),
        "flags": request.flags,
        "forwards": [{"attempt": f.attempt, **f.result.to_dict()} for f in row.forwards],
    }


def _cells(row: EventRow, *, flags_first: bool = False) -> list[str]:
    request, parsed = row.request, parse_body(row.request.body_bytes)
    signature = request.signature.result if request.signature else "-"
    flags = f"[{','.join(request.flags)}]" if request.flags else ""
    summary = key_field(parsed)
    if flags:  # first where the line may be cut short: [duplicate] and [rejected] matter more than a message id
        summary = f"{flags} {summary}" if flags_first else f"{summary} {flags}"
    return [
        request.id[:SHORT_ID],
        _time(request.received_at),
        request.event_type or parsed.kind,
        signature,
        _forward_text(row.forwards),
        summary,
    ]


def _line(cells: list[str], columns: tuple[tuple[str, int], ...] = _COLUMNS) -> str:
    fixed = [cell.ljust(width) for cell, (_, width) in zip(cells, columns, strict=False)]
    return "  ".join([*fixed, *cells[len(columns) :]])


def _narrow(cells: list[str]) -> list[str]:
    row_id, received, _event, signature, forwards, summary = cells
    return [row_id, received[5:], signature, forwards, summary]


def render_event_rows(rows: Iterable[EventRow], *, json_output: bool) -> int:
    """Stream rows as they come (NDJSON, or aligned lines; no table held in memory). Returns the count."""
    count = 0
    if json_output:
        for row in rows:
            print_json(row_json(row))
            count += 1
        return count
    tty = sys.stdout.isatty()
    console = stdout_console()
    narrow = tty and console.width < _NARROW_BELOW  # a pipe always gets the full, stable layout
    columns = _NARROW_COLUMNS if narrow else _COLUMNS
    header = _line([name for name, _ in columns] + ["summary"], columns)
    for row in rows:
        if count == 0:
            _write(console, f"[bold]{escape(header)}[/]" if tty else header, tty)
        cells = _cells(row, flags_first=narrow)
        signature = cells[3]
        line = _line(_narrow(cells) if narrow else cells, columns)
        if tty:
            style = _SIGNATURE_STYLE.get(signature, "")
            line = escape(line).replace(signature, f"[{style}]{signature}[/]", 1) if style else escape(line)
        _write(console, line, tty)
        count += 1
    if count == 0:
        stderr_console().print("no recorded requests match", style="dim")
    return count


def _write(console: Console, line: str, tty: bool) -> None:
    if tty:
        console.print(line, no_wrap=True, overflow="ellipsis", crop=True)
    else:
        sys.stdout.write(line + "\n")


def detail_json(request: RecordedRequest, forwards: list[ForwardRecord], *, show_secrets: bool) -> dict[str, Any]:
    parsed = parse_body(request.body_bytes)
    raw = request.to_dict()
    raw["headers"] = [list(pair) for pair in shown_headers(request.headers, show_secrets=show_secrets)]
    raw["event"] = request.event_type or parsed.kind
    if parsed.data is not None and "last_messages" in parsed.data:
        raw["transcript"] = decode_last_messages(parsed.data)
    raw["forwards"] = [{"attempt": f.attempt, "at": f.at, **f.result.to_dict()} for f in forwards]
    return raw


def render_event_detail(
    request: RecordedRequest, forwards: list[ForwardRecord], *, show_secrets: bool, json_output: bool
) -> None:
    """One request in full: summary, headers (signatures redacted), pretty body, transcript, forwards."""
    if json_output:
        print_json(detail_json(request, forwards, show_secrets=show_secrets))
        return
    console = stdout_console()
    parsed = parse_body(request.body_bytes)
    _print_summary(console, request, parsed)
    console.print("\n[bold]headers[/]")
    for name, value in shown_headers(request.headers, show_secrets=show_secrets):
        console.print(f"  {escape(name)}: {escape(value)}", soft_wrap=True)
    console.print("\n[bold]body[/]")
    _print_body(console, request)
    if parsed.data is not None and "last_messages" in parsed.data:
        console.print("\n[bold]transcript[/] (last_messages)")
        for message in decode_last_messages(parsed.data):
            _print_message(console, message)
    console.print("\n[bold]forwards[/]" + ("" if forwards else "  none recorded"))
    for record in forwards:
        _print_forward(console, record)


def _print_summary(console: Console, request: RecordedRequest, parsed: ParsedEvent) -> None:
    query = f"?{request.query}" if request.query else ""
    size = request.body_size or len(request.body_bytes)
    signature = request.signature
    lines = [
        ("id", request.id),
        ("received", request.received_at),
        ("request", f"{request.method} {request.path}{query}  ({size} bytes)"),
        ("event", f"{request.event_type or parsed.kind}: {key_field(parsed)}"),
        ("signature", "-" if signature is None else " ".join(filter(None, (signature.result, signature.scheme)))),
    ]
    if signature is not None and signature.detail:
        lines.append(("", signature.detail))
    if request.response_status is not None:
        lines.append(("answered", str(request.response_status)))
    if request.flags:
        lines.append(("flags", ", ".join(request.flags)))
    for label, value in lines:
        console.print(f"{label:<10} {escape(value)}", soft_wrap=True)


def _print_body(console: Console, request: RecordedRequest) -> None:
    if request.body_omitted:
        console.print("  (not recorded: over the size limit)")
        return
    if request.body_encoding == "base64":
        console.print(f"  not UTF-8; base64 of the exact bytes:\n  {request.body}", soft_wrap=True)
        return
    try:
        pretty = json.dumps(json.loads(request.body), indent=2, ensure_ascii=False)
    except ValueError:
        console.print(escape(request.body), soft_wrap=True)
        return
    if console.is_terminal:
        from rich.syntax import Syntax  # pygments: only when colouring for a terminal

        console.print(Syntax(pretty, "json", word_wrap=True, background_color="default"))
    else:
        console.print(escape(pretty), soft_wrap=True)


def _print_message(console: Console, message: dict[str, Any]) -> None:
    when = str(message.get("timestamp", ""))
    when = when[11:19] if len(when) >= 19 and when[10] == "T" else when
    speaker = str(message.get("type", "?"))
    content = str(message.get("content", ""))
    kind = message.get("content_type")
    extra = escape(f" [{kind}]") if kind and kind != "text" else ""
    media = escape(f" {message['media_url']}") if message.get("media_url") else ""
    style = "cyan" if speaker == "user" else "magenta"
    console.print(
        f"  [dim]{escape(when)}[/] [{style}]{escape(speaker):<4}[/] {escape(content)}{extra}{media}", soft_wrap=True
    )


def _print_forward(console: Console, record: ForwardRecord) -> None:
    result = record.result
    outcome = str(result.status) if result.status is not None else f"{result.error_code}: {result.error}"
    style = "green" if result.ok else "red"
    latency = f"{result.latency_ms:.1f} ms" if result.latency_ms is not None else ""
    console.print(
        f"  #{record.attempt} {escape(result.url)}  [{style}]{escape(outcome)}[/]  {latency}  {escape(record.at)}",
        soft_wrap=True,
    )
    if result.response_snippet:
        console.print(f"     {escape(result.response_snippet)}", soft_wrap=True, style="dim")


def write_body(body: bytes) -> None:
    """The exact bytes, nothing added (`events export --format body > body.bin`)."""
    sys.stdout.buffer.write(body)
    sys.stdout.flush()


def write_text(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
