"""The inspector's JSON: an event's list row and its page (headers redacted, body pretty, chat), runs, diffs. No I/O."""

from __future__ import annotations

import base64
import difflib
import json
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from whatsable_cli.delivery.results import DeliveryResult
from whatsable_cli.recording.export import curl_command, default_target
from whatsable_cli.recording.history_queries import HistoryRow, RunRow
from whatsable_cli.recording.history_replays import ReplayRecord
from whatsable_cli.recording.lines import ForwardRecord, RecordedRequest
from whatsable_cli.webhooks.events import ParsedEvent, chronological, decode_last_messages, parse_body
from whatsable_cli.webhooks.redaction import has_signature, shown_headers
from whatsable_cli.webhooks.summary import summarize

MAX_DIFF_LINES = 4000  # per side: difflib's cost grows quickly with the number of lines
MAX_PRETTY_BYTES = 2 << 20  # a body larger than this is shown as it came, not re-indented


def _parsed(request: RecordedRequest) -> ParsedEvent:
    return parse_body(request.body_bytes)


def _result_json(result: DeliveryResult) -> dict[str, Any]:
    return {
        "url": result.url,
        "ok": result.ok,
        "status": result.status,
        "latency_ms": result.latency_ms,
        "answer": result.response_snippet,
        "error": result.error,
        "error_code": result.error_code,
    }


def _forward_json(record: ForwardRecord) -> dict[str, Any]:
    return {**_result_json(record.result), "attempt": record.attempt, "at": record.at}


def replay_json(record: ReplayRecord) -> dict[str, Any]:
    """A kept replay, shown as a forward is, with how it was sent."""
    return {**_result_json(record.result), "at": record.at, "resigned": record.resigned, "edited": record.edited}


def _last_forward(forwards: list[ForwardRecord]) -> dict[str, Any] | None:
    if not forwards:
        return None
    shown = _forward_json(forwards[-1])
    shown["count"] = len(forwards)
    return shown


def row_json(row: HistoryRow) -> dict[str, Any]:
    """One line of the event list."""
    request = row.request
    parsed = _parsed(request)
    signature = request.signature
    return {
        "seq": row.seq,
        "id": request.id,
        "run": row.run,
        "received_at": request.received_at,
        "method": request.method,
        "path": request.path,
        "event": request.event_type or parsed.kind,
        "status": parsed.status,
        "summary": summarize(parsed),
        "signature": None if signature is None else signature.result,
        "answer": request.response_status,
        "flags": list(request.flags),
        "size": request.body_size,
        "forward": _last_forward(row.forwards),
    }


def pretty_body(request: RecordedRequest) -> tuple[str, str]:
    """(how the body is shown, the text): json (re-indented), text, base64 (not UTF-8), omitted or empty."""
    if request.body_omitted:
        return "omitted", f"(not kept: {request.body_size} bytes, over the listener's --max-body)"
    body = request.body_bytes
    if not body:
        return "empty", ""
    if len(body) <= MAX_PRETTY_BYTES:
        try:
            return "json", json.dumps(json.loads(body), indent=2, ensure_ascii=False)
        except (ValueError, UnicodeDecodeError, RecursionError):
            pass
    try:
        return "text", body.decode("utf-8")
    except UnicodeDecodeError:
        return "base64", base64.b64encode(body).decode("ascii")


def chat(parsed: ParsedEvent) -> list[dict[str, str]]:
    """`last_messages` (a JSON string, or an array) as chat bubbles, oldest first."""
    if parsed.data is None:
        return []
    return [
        {
            "from": str(message.get("type") or ""),
            "text": "" if message.get("content") is None else str(message.get("content")),
            "at": str(message.get("timestamp") or ""),
            "content_type": str(message.get("content_type") or "text"),
        }
        for message in chronological(decode_last_messages(parsed.data))
    ]


def _shown_request(request: RecordedRequest, show_secrets: bool) -> RecordedRequest:
    return request if show_secrets else replace(request, headers=shown_headers(request.headers, show_secrets=False))


def curl_text(request: RecordedRequest, url: str | None, *, show_secrets: bool) -> str:
    """The request as a curl command, its signature values redacted unless secrets may be shown."""
    shown = _shown_request(request, show_secrets)
    return curl_command(shown, url or default_target(request))


def event_json(
    request: RecordedRequest,
    run: int | None,
    forwards: list[ForwardRecord],
    *,
    show_secrets: bool,
    targets: Iterable[str] = (),
) -> dict[str, Any]:
    """An event's page: everything recorded about it, as the page shows it."""
    parsed = _parsed(request)
    body_kind, body_text = pretty_body(request)
    signature = request.signature
    replay_targets = list(dict.fromkeys([*(record.result.url for record in forwards), *targets]))
    return {
        "id": request.id,
        "run": run,
        "received_at": request.received_at,
        "method": request.method,
        "path": request.path,
        "query": request.query,
        "event": request.event_type or parsed.kind,
        "status": parsed.status,
        "summary": summarize(parsed),
        "answer": request.response_status,
        "flags": list(request.flags),
        "size": request.body_size,
        "headers": [list(pair) for pair in shown_headers(request.headers, show_secrets=show_secrets)],
        "redacted": not show_secrets and has_signature(request.headers),
        "body_kind": body_kind,
        "body": body_text,
        "raw_body": request.body if request.body_encoding == "utf-8" and not request.body_omitted else None,
        "chat": chat(parsed),
        "signature": None
        if signature is None
        else {
            "result": signature.result,
            "scheme": signature.scheme,
            "reason": signature.reason,
            "detail": signature.detail,
        },
        "forwards": [_forward_json(record) for record in forwards],
        "replay_targets": replay_targets,
        "curl": curl_text(request, replay_targets[0] if replay_targets else None, show_secrets=show_secrets),
    }


def _header_lines(request: RecordedRequest, show_secrets: bool) -> list[str]:
    return [f"{name}: {value}" for name, value in shown_headers(request.headers, show_secrets=show_secrets)]


def _diff(left: list[str], right: list[str], left_name: str, right_name: str) -> dict[str, Any]:
    truncated = len(left) > MAX_DIFF_LINES or len(right) > MAX_DIFF_LINES
    lines = difflib.unified_diff(
        left[:MAX_DIFF_LINES], right[:MAX_DIFF_LINES], fromfile=left_name, tofile=right_name, lineterm="", n=3
    )
    shown = [line for line in lines if not line.startswith(("---", "+++"))]
    return {"lines": shown, "same": not shown, "truncated": truncated}


def diff_json(left: RecordedRequest, right: RecordedRequest, *, show_secrets: bool) -> dict[str, Any]:
    """A line diff of two events' headers and of their pretty-printed bodies."""
    left_body, right_body = pretty_body(left)[1], pretty_body(right)[1]
    return {
        "left": {"id": left.id, "received_at": left.received_at, "summary": summarize(_parsed(left))},
        "right": {"id": right.id, "received_at": right.received_at, "summary": summarize(_parsed(right))},
        "headers": _diff(_header_lines(left, show_secrets), _header_lines(right, show_secrets), left.id, right.id),
        "body": _diff(left_body.splitlines(), right_body.splitlines(), left.id, right.id),
    }


def run_json(run: RunRow) -> dict[str, Any]:
    return {
        "id": run.id,
        "source": run.source,
        "origin": run.origin,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "events": run.events,
        "kept": run.kept,
        "forwards_ok": run.forwards_ok,
        "forwards_failed": run.forwards_failed,
        "signatures_failed": run.signatures_failed,
    }
