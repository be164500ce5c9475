"""Loading JSON Lines recordings into the history (`events import`, and once, the data dir's old recordings).

Importing is idempotent: a request whose id the history holds already is skipped, and so are its
forward results (they came with it), so importing a file twice adds nothing. Each batch of lines is one
transaction, so a listener writing at the same time waits for one batch, not for the whole file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whatsable_cli.errors import BadInputError
from whatsable_cli.paths import recordings_dir
from whatsable_cli.recording.history import History
from whatsable_cli.recording.history_index import add_id, index_pending, indexed_seq_of
from whatsable_cli.recording.history_rows import INSERT_FORWARD, INSERT_REQUEST, forward_row, now_iso, request_row
from whatsable_cli.recording.jsonl import SkipWarning, iter_parsed_lines
from whatsable_cli.recording.lines import Entry, ForwardRecord, RecordedRequest, entry_from_dict
from whatsable_cli.webhooks.events import parse_body

BATCH = 500
LEGACY_DONE = "legacy_recordings_imported"


@dataclass
class ImportResult:
    """What one file added: requests new to the history, ones it had already, and forward results."""

    path: Path
    added: int = 0
    known: int = 0
    forwards: int = 0
    run_id: int | None = None
    first: str | None = None
    last: str | None = None
    signatures_failed: int = 0
    forwards_ok: int = 0
    skipped_lines: list[tuple[int, str]] = field(default_factory=list)


def _text_or_none(value: Any, name: str) -> None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} is not a string")


def importable(raw: Any) -> Entry:
    """A parsed line as a request or forward the history can hold and write back out as the same line
    (ValueError/TypeError otherwise: the line is skipped as corrupt)."""
    entry = entry_from_dict(raw)
    if isinstance(entry, RecordedRequest):
        _text_or_none(entry.event_type, "event_type")
        status = entry.response_status
        if status is not None and (isinstance(status, bool) or not isinstance(status, int)):
            raise ValueError("response_status is not a number")
        if not all(isinstance(flag, str) for flag in entry.flags):
            raise ValueError("a flag is not a string")
        if entry.signature is not None:
            for name, value in vars(entry.signature).items():
                _text_or_none(value, f"signature.{name}")
            if entry.signature.result is None:
                raise ValueError("signature.result is missing")
        entry.body_bytes  # noqa: B018 (decodes the body: invalid base64 or text that is not UTF-8 raises)
    else:
        result = entry.result
        if result.status is not None and (isinstance(result.status, bool) or not isinstance(result.status, int)):
            raise ValueError("a forward's status is not a number")
        if result.latency_ms is not None and not isinstance(result.latency_ms, int | float):
            raise ValueError("a forward's latency_ms is not a number")
        if isinstance(entry.attempt, bool):
            raise ValueError("a forward's attempt is not a number")
        for name in ("url", "response_snippet", "error", "error_code", "retry_after"):
            _text_or_none(getattr(result, name), name)
    entry.to_json_line()  # text that cannot be written back (lone surrogates) raises here, not on export
    return entry


def import_recording(
    history: History, path: Path, *, strict: bool = False, on_skip: SkipWarning | None = None
) -> ImportResult:
    """Load one recording (streamed: memory does not grow with the file); the import becomes a run of its own,
    unless it added nothing."""
    result = ImportResult(path)

    def skipped(where: Path, line_no: int, why: str) -> None:
        result.skipped_lines.append((line_no, why))
        if on_skip is not None:
            on_skip(where, line_no, why)

    try:
        handle = path.open("rb")
    except OSError as exc:
        raise BadInputError(
            f"cannot read the recording {path}: {exc.strerror}", hint="check the path", code="recording_unreadable"
        ) from None
    with handle:
        entries = iter_parsed_lines(handle, path, importable, strict=strict, on_skip=skipped)
        for batch in _batches(entries, BATCH):
            with history.transaction() as conn:
                _import_batch(history, conn, batch, result)
        if result.run_id is not None:
            with history.transaction() as conn:
                conn.execute(
                    "UPDATE runs SET started_at = ?, ended_at = ?, events = ?, signatures_failed = ?, "
                    "forwards_ok = ?, forwards_failed = ? WHERE id = ?",
                    (
                        result.first,
                        result.last,
                        result.added,
                        result.signatures_failed,
                        result.forwards_ok,
                        result.forwards - result.forwards_ok,
                        result.run_id,
                    ),
                )
    return result


def _batches(entries: Iterator[Entry], size: int) -> Iterator[list[Entry]]:
    batch: list[Entry] = []
    for entry in entries:
        batch.append(entry)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _import_batch(history: History, conn: sqlite3.Connection, batch: list[Entry], result: ImportResult) -> None:
    index_pending(conn)  # everything recorded before is indexed: the id index alone tells a known request
    for entry in batch:
        if isinstance(entry, ForwardRecord):
            seq = indexed_seq_of(conn, entry.request_id)
            owner = None if seq is None else conn.execute("SELECT run_id FROM requests WHERE seq = ?", (seq,))
            if owner is not None and owner.fetchone() == (result.run_id,) and result.run_id is not None:
                row = forward_row(entry)
                conn.execute(INSERT_FORWARD, row)
                result.forwards += 1
                result.forwards_ok += bool(row[3])
            continue
        if result.run_id is None:
            cursor = conn.execute(
                "INSERT INTO runs (source, origin, started_at) VALUES ('import', ?, ?)", (str(result.path), now_iso())
            )
            result.run_id = cursor.lastrowid
        parsed = parse_body(entry.body_bytes)
        row = request_row(None, result.run_id, entry, parsed.status, parsed.kind)
        if indexed_seq_of(conn, entry.id) is None:
            added = conn.execute(INSERT_REQUEST, row).lastrowid
            assert added is not None  # an INSERT into a rowid table
            add_id(conn, entry.id, added)
            result.added += 1
            result.signatures_failed += entry.signature is not None and entry.signature.result == "failed"
            result.first = min(result.first or entry.received_at, entry.received_at)
            result.last = max(result.last or entry.received_at, entry.received_at)
        else:
            result.known += 1
    index_pending(conn)
    if result.run_id is not None and not result.added:  # no empty runs: this batch only met known requests
        conn.execute("DELETE FROM runs WHERE id = ?", (result.run_id,))
        result.run_id = None


def import_legacy_once(history: History) -> list[ImportResult]:
    """On the history's first use: the recordings earlier versions wrote (one file per run) become runs."""
    if history.meta(LEGACY_DONE) is not None:
        return []
    folder = recordings_dir()
    results = []
    files = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
    for path in files:
        try:
            found = import_recording(history, path)
        except BadInputError:
            continue  # unreadable: left where it is, for `events import` to report
        if found.added:
            results.append(found)
    with history.transaction() as conn:
        history.set_meta(conn, LEGACY_DONE, now_iso())
    return results
