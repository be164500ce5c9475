"""Renders recordings: the streamed `events list` rows, one request in full (`events show`), exports, and the
history's runs, imports and prunes."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from whatsable_cli.delivery.results import DeliveryResult
from whatsable_cli.recording.history_import import ImportResult
from whatsable_cli.recording.history_queries import HistoryRow, RunRow
from whatsable_cli.recording.history_replays import ReplayRecord
from whatsable_cli.recording.history_retention import PruneResult
from whatsable_cli.recording.lines import ForwardRecord, RecordedRequest
from whatsable_cli.recording.query import EventRow
from whatsable_cli.render.console import print_json, print_note, print_warning, stderr_console, stdout_console
from whatsable_cli.render.text import SHORT_ID, local_datetime, short_id
from whatsable_cli.webhooks.events import ParsedEvent, chronological, decode_last_messages, parse_body
from whatsable_cli.webhooks.redaction import shown_headers
from whatsable_cli.webhooks.summary import summarize

_COLUMNS = (("id", SHORT_ID), ("received", 19), ("event", 16), ("signature", 10), ("forwards", 14))
# A terminal under 120 columns: no event column (the summary starts with the status, or the sender's +phone),
# the time without the year, so the summary keeps about 35 characters at 80 columns instead of none.
_NARROW_COLUMNS = (("id", SHORT_ID), ("received", 14), ("signature", 9), ("forwards", 8))
_NARROW_BELOW = 120
_SIGNATURE_STYLE = {"verified": "green", "failed": "bold red", "unsigned": "yellow", "unchecked": "dim"}


def warn_skipped_line(path: Path, line_no: int, why: str) -> None:
    """The on_skip callback for corrupt recording lines: a warning naming the file and line."""
    print_warning(f"{path}:{line_no}: {why}; skipped (--strict makes this an error)")


def key_field(parsed: ParsedEvent) -> str:
    """What a developer looks at first: the event's one-line summary, as every display shows it."""
    return summarize(parsed)


def _forward_text(forwards: list[ForwardRecord]) -> str:
    return " ".join(str(f.result.status or f.result.error_code or "error") for f in forwards) or "-"


def _time(received_at: str) -> str:
    """Local time, as every display shows it (render.text); JSON keeps the recorded UTC."""
    return local_datetime(received_at)


def row_json(row: EventRow) -> dict[str, Any]:
    request, parsed = row.request, parse_body(row.request.body_bytes)
    run = {"run": row.run} if isinstance(row, HistoryRow) else {}
    return {
        "id": request.id,
        **run,
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
        short_id(request.id),
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


def render_event_rows(rows: Iterable[EventRow], *, json_output: bool, live: bool = False) -> int:
    """Stream rows as they come (NDJSON, or aligned lines; no table held in memory). Returns the count.

    `live` (a tail that waits for new rows): each line is flushed as it is written, even to a pipe.
    """
    count = 0
    if json_output:
        for row in rows:
            print_json(row_json(row))
            count += 1
        return count
    if live:
        stderr_console().print("following the history: new events appear as they are recorded; Ctrl-C to stop")
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
        if live and not tty:
            sys.stdout.flush()
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
    request: RecordedRequest,
    forwards: list[ForwardRecord],
    *,
    show_secrets: bool,
    json_output: bool,
    run: int | None = None,
    replays: Sequence[ReplayRecord] | None = None,
) -> None:
    """One request in full: summary, headers (signatures redacted), pretty body, transcript, forwards, and the
    replays sent from the inspector (the history keeps them)."""
    if json_output:
        detail = detail_json(request, forwards, show_secrets=show_secrets)
        if run is not None:
            detail["run"] = run
        if replays is not None:  # read from the history, which keeps them
            detail["replays"] = [_replay_dict(replay) for replay in replays]
        print_json(detail)
        return
    console = stdout_console()
    parsed = parse_body(request.body_bytes)
    _print_summary(console, request, parsed, run)
    console.print("\n[bold]headers[/]")
    for name, value in shown_headers(request.headers, show_secrets=show_secrets):
        console.print(f"  {escape(name)}: {escape(value)}", soft_wrap=True)
    console.print("\n[bold]body[/]")
    _print_body(console, request)
    if parsed.data is not None and "last_messages" in parsed.data:
        console.print("\n[bold]transcript[/] (last_messages)")
        for message in chronological(decode_last_messages(parsed.data)):  # a conversation reads oldest first
            _print_message(console, message)
    console.print("\n[bold]forwards[/]" + ("" if forwards else "  none recorded"))
    for record in forwards:
        _print_forward(console, record)
    if replays:  # from the history, which keeps them
        console.print("\n[bold]replays[/] (sent from the inspector, newest first)")
        for replay in replays:
            how = "re-signed" if replay.resigned else "as recorded"
            _print_delivery(console, replay.result, f"{how}{', edited' if replay.edited else ''}", replay.at)


def _replay_dict(replay: ReplayRecord) -> dict[str, Any]:
    return {"at": replay.at, "resigned": replay.resigned, "edited": replay.edited, **replay.result.to_dict()}


def _print_summary(console: Console, request: RecordedRequest, parsed: ParsedEvent, run: int | None) -> None:
    query = f"?{request.query}" if request.query else ""
    size = request.body_size or len(request.body_bytes)
    signature = request.signature
    lines = [
        ("id", request.id),
        ("received", f"{local_datetime(request.received_at)} ({request.received_at})"),
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
    if run is not None:
        lines.append(("run", f"{run} (whatsable events list --run {run})"))
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
    _print_delivery(console, record.result, f"#{record.attempt}", record.at)


def _print_delivery(console: Console, result: DeliveryResult, label: str, at: str) -> None:
    outcome = str(result.status) if result.status is not None else f"{result.error_code}: {result.error}"
    style = "green" if result.ok else "red"
    latency = f"{result.latency_ms:.1f} ms" if result.latency_ms is not None else ""
    console.print(
        f"  {escape(label)} {escape(result.url)}  [{style}]{escape(outcome)}[/]  {latency}  {escape(at)}",
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


def write_lines(lines: Iterable[bytes]) -> int:
    """Recording lines to stdout as bytes, exactly (`events export --format jsonl > rec.jsonl`)."""
    count = 0
    out = sys.stdout.buffer
    for line in lines:
        out.write(line)
        count += 1
    out.flush()
    return count


# -- the history: runs, imports, prunes ------------------------------------------------------------------


def _duration(run: RunRow) -> str:
    if run.ended_at is None:
        return "-"
    try:
        seconds = (datetime.fromisoformat(run.ended_at) - datetime.fromisoformat(run.started_at)).total_seconds()
    except (TypeError, ValueError):
        return "?"
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def run_json(run: RunRow) -> dict[str, Any]:
    return {"type": "run", **asdict(run)}


def render_runs(runs: list[RunRow], *, json_output: bool) -> None:
    """`events runs`: newest first; a run that has not ended (running, or killed) shows no duration."""
    if json_output:
        for run in runs:
            print_json(run_json(run))
        return
    if not runs:
        stderr_console().print("no runs in the history yet: `whatsable listen` records one", style="dim")
        return
    header = f"{'run':>5}  {'started':<19}  {'duration':>8}  {'port':>5}  {'events':>7}  {'forwards':>12}  "
    lines = [header + "errors  source"]
    for run in runs:
        events = str(run.events) if run.kept == run.events else f"{run.kept}/{run.events}"
        forwards = f"{run.forwards_ok} ok, {run.forwards_failed} x" if run.forwards_ok or run.forwards_failed else "-"
        errors = run.signatures_failed + run.record_errors
        source = f"import {run.origin}" if run.source == "import" else (run.public_url or "listen")
        port = "-" if run.port is None else str(run.port)
        lines.append(
            f"{run.id:>5}  {_time(run.started_at):<19}  {_duration(run):>8}  {port:>5}  {events:>7}  "
            f"{forwards:>12}  {errors:>6}  {source}"
        )
    for line in lines:
        sys.stdout.write(line + "\n")
    sys.stdout.flush()


def render_imported(results: list[ImportResult], *, json_output: bool) -> None:
    for result in results:
        if json_output:
            print_json(
                {
                    "type": "import",
                    "path": str(result.path),
                    "added": result.added,
                    "known": result.known,
                    "forwards": result.forwards,
                    "run": result.run_id,
                    "skipped_lines": len(result.skipped_lines),
                }
            )
            continue
        run = f" as run {result.run_id}" if result.run_id is not None else ""
        known = f", {result.known} already in the history" if result.known else ""
        stderr_console().print(
            f"{escape(str(result.path))}: {result.added} requests added{run}{known}, {result.forwards} forward results"
        )


def note_legacy_import(results: list[ImportResult]) -> None:
    """The first use of the history imported the recordings earlier versions wrote: say so, once."""
    if results:
        added = sum(result.added for result in results)
        print_note(f"the history's first use: imported {added} events from {len(results)} earlier recordings")


def render_pruned(result: PruneResult, *, json_output: bool) -> None:
    if json_output:
        print_json({"type": "prune", **asdict(result)})
        return
    size = f"{result.size_after / (1 << 20):.1f} MiB in use (was {result.size_before / (1 << 20):.1f} MiB)"
    stderr_console().print(
        f"pruned {result.requests} events, {result.forwards} forward results and {result.runs} runs; {size}"
    )


def note_more(shown: int) -> None:
    print_note(f"the newest {shown} shown; --last N or --all for more")


def note_empty_history(path: Path) -> None:
    print_note(f"the history ({path}) holds no events yet: `whatsable listen` records them")
