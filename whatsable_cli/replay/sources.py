"""Replay sources: the history, recordings, fixtures, JSON payload files, folders of them and stdin, all streamed."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whatsable_cli.errors import BadInputError
from whatsable_cli.recording.jsonl import SkipWarning, iter_parsed_lines
from whatsable_cli.recording.lines import RecordedRequest, entry_from_dict, is_recording_object
from whatsable_cli.webhooks.events import KIND_EMPTY, KIND_NOT_JSON, ParsedEvent, parse_body
from whatsable_cli.webhooks.fixtures import find_fixture

JSON_HEADERS = (("Content-Type", "application/json"),)
RECORDING_SUFFIXES = frozenset({".jsonl", ".ndjson"})
PAYLOAD_SUFFIXES = frozenset({".json", *RECORDING_SUFFIXES})
STDIN = "-"


@dataclass(slots=True)
class ReplayItem:
    """One request to replay: the exact body and headers, and where it came from."""

    origin: str  # the file, fixture or stdin it came from
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=lambda: list(JSON_HEADERS))
    method: str = "POST"
    request_id: str | None = None  # recorded requests only
    received_at: str | None = None  # recorded requests only
    event_type: str | None = None
    skip_reason: str | None = None  # why it cannot be sent (no body recorded): counted as skipped


@dataclass(frozen=True)
class Source:
    """A SOURCE argument, resolved before anything is sent (so a typo fails fast, exit 7)."""

    spec: str
    kind: str  # "recording" | "payloads" | "fixture" | "stdin" | "history"
    path: Path | None = None
    run: int | None = None  # history: one run (None: every run)
    ids: tuple[str, ...] = ()  # history: only requests whose id starts with one of these (none: all)


HISTORY = "history"  # SOURCE: every run in the history; run:N or run:latest is one of them


def history_source(spec: str, ids: Iterable[str] = ()) -> Source:
    """`history`, `run:N` or `run:latest` as a source, its run checked now (exit 7 for one that is not there)."""
    from whatsable_cli.paths import history_path
    from whatsable_cli.recording.history import opened_history
    from whatsable_cli.recording.history_queries import resolve_run

    path = history_path()
    with opened_history(path) as history:
        if history.conn.execute("SELECT 1 FROM runs LIMIT 1").fetchone() is None:
            raise BadInputError(
                f"no recording found: the history ({path}) has no runs yet",
                hint="run `whatsable listen` to record events, or pass a recording file",
                code="no_recording",
            )
        run = resolve_run(history, spec.removeprefix("run:")) if spec.startswith("run:") else None
    return Source(spec, HISTORY, path, run, tuple(ids))


def _is_history_spec(spec: str) -> bool:
    return (spec == HISTORY or spec.startswith("run:")) and not Path(spec).exists()


def _is_recording_line(line: bytes) -> bool | None:
    """True for a recording line, False for another JSON object, None when the line is not JSON alone."""
    try:
        value = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(value, dict):
        return None
    return is_recording_object(value)


def _first_line(path: Path) -> bytes:
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                return line
    return b""


def _file_source(path: Path) -> Source:
    try:
        first = _first_line(path)
        is_recording = _is_recording_line(first)
        if is_recording is None and path.suffix not in RECORDING_SUFFIXES:
            _check_document(path.read_bytes(), str(path))  # one JSON document: checked before anything is sent
    except OSError as exc:
        raise BadInputError(
            f"cannot read {path}: {exc.strerror}", hint="check the path", code="unreadable_file"
        ) from None
    if is_recording or (is_recording is None and path.suffix in RECORDING_SUFFIXES):
        return Source(str(path), "recording", path)
    return Source(str(path), "payloads", path)


def _check_document(body: bytes, origin: str) -> ParsedEvent:
    parsed = parse_body(body)
    if parsed.kind in (KIND_NOT_JSON, KIND_EMPTY):
        raise BadInputError(
            f"{origin} is not a JSON payload ({parsed.error})",
            hint="pass a JSON file, a recording, or one JSON payload per line",
            code="not_json",
        )
    return parsed


def resolve_source(spec: str) -> list[Source]:
    """A file, a folder (its .json/.jsonl files, sorted), a fixture name, or - for stdin."""
    if spec == STDIN:
        return [Source(spec, "stdin")]
    if _is_history_spec(spec):
        return [history_source(spec)]
    path = Path(spec)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in PAYLOAD_SUFFIXES)
        if not files:
            raise BadInputError(
                f"no .json or .jsonl files in the folder {spec}", hint="point at payload files", code="empty_folder"
            )
        return [_file_source(p) for p in files]
    if path.is_file():
        return [_file_source(path)]
    try:
        fixture = find_fixture(spec)
    except BadInputError:
        raise BadInputError(
            f"no such file, folder or fixture: {spec}",
            hint="pass a recording, a JSON file, a folder, - for stdin, or a name from `whatsable fixtures list`",
            code="unknown_source",
        ) from None
    return [Source(fixture.name, "fixture", fixture.path)]


def resolve_sources(specs: Iterable[str]) -> list[Source]:
    sources = [source for spec in specs for source in resolve_source(spec)]
    if sum(1 for s in sources if s.kind == "stdin") > 1:
        raise BadInputError("- (stdin) given more than once", hint="read stdin once", code="stdin_twice")
    return sources


def _recorded_items(
    lines: Iterable[bytes], origin: str, *, strict: bool, on_skip: SkipWarning | None
) -> Iterator[ReplayItem]:
    def parse(raw: Any) -> ReplayItem | None:
        """A request line as the item to re-send (a forward line: nothing to send)."""
        entry = entry_from_dict(raw)  # the recording line's one reader
        if not isinstance(entry, RecordedRequest):
            return None
        method, received_at, event_type = entry.method, entry.received_at, entry.event_type
        if entry.body_omitted:  # still selected by the filters, then skipped and counted by the replay
            reason = f"{origin}: request {entry.id} was recorded without its body (over the size limit)"
            return ReplayItem(origin, b"", [], method, entry.id, received_at, event_type, reason)
        headers = entry.headers
        if "decoded" in entry.flags:  # the body was recorded decompressed: its Content-Encoding no longer holds
            headers = [(k, v) for k, v in headers if k.lower() != "content-encoding"]
        return ReplayItem(origin, entry.body_bytes, headers, method, entry.id, received_at, event_type)

    for item in iter_parsed_lines(lines, Path(origin), parse, strict=strict, on_skip=on_skip):
        if item is not None:
            yield item


def _payload_items(
    lines: Iterator[bytes], origin: str, *, strict: bool, on_skip: SkipWarning | None
) -> Iterator[ReplayItem]:
    """One JSON document (sent exactly as stored), or NDJSON: one payload per line, without its newline."""
    head: list[bytes] = []  # every line read so far, blank ones included, so a document stays exact
    for line in lines:
        head.append(line)
        if sum(1 for h in head if h.strip()) == 2:
            break
    filled = [h for h in head if h.strip()]
    if len(filled) < 2 or _is_recording_line(filled[0]) is None:
        body = b"".join(head) + b"".join(lines)
        yield ReplayItem(origin, body, event_type=_check_document(body, origin).kind)
        return
    for number, line in enumerate(itertools.chain(head, lines), start=1):
        if not line.strip():
            continue
        body = line.rstrip(b"\r\n")
        parsed = parse_body(body)
        if parsed.kind in (KIND_NOT_JSON, KIND_EMPTY):
            if strict:
                raise BadInputError(
                    f"{origin}:{number}: {parsed.error}", hint="drop --strict to skip bad lines", code="not_json"
                )
            if on_skip is not None:
                on_skip(Path(origin), number, f"not a JSON payload ({parsed.error})")
            continue
        yield ReplayItem(f"{origin}:{number}", body, event_type=parsed.kind)


def _stdin_items(stdin: Iterable[bytes], *, strict: bool, on_skip: SkipWarning | None) -> Iterator[ReplayItem]:
    lines = iter(stdin)
    head: list[bytes] = []  # leading blank lines are kept: a document is sent exactly as piped
    for line in lines:
        head.append(line)
        if line.strip():
            break
    if not any(h.strip() for h in head):
        raise BadInputError(
            "nothing on stdin", hint="pipe a recording or a JSON payload into `replay -`", code="empty_stdin"
        )
    rest = itertools.chain(head, lines)
    if _is_recording_line(head[-1]):
        yield from _recorded_items(rest, "<stdin>", strict=strict, on_skip=on_skip)
    else:
        yield from _payload_items(rest, "<stdin>", strict=strict, on_skip=on_skip)


def iter_items(
    sources: Iterable[Source],
    *,
    stdin: Iterable[bytes],
    strict: bool = False,
    on_skip: SkipWarning | None = None,
) -> Iterator[ReplayItem]:
    """Every request of every source in order, streamed (a recording is never read whole).

    `stdin` is the lines of `-` (a binary stream iterates its lines; see stdin_lines for the live one).
    """
    for source in sources:
        if source.kind == "stdin":
            yield from _stdin_items(stdin, strict=strict, on_skip=on_skip)
            continue
        if source.kind == HISTORY:
            yield from _history_items(source)
            continue
        assert source.path is not None
        if source.kind == "fixture":
            yield ReplayItem(f"fixture:{source.spec}", source.path.read_bytes(), event_type=source.spec.split("/")[0])
            continue
        with source.path.open("rb") as handle:
            if source.kind == "recording":
                yield from _recorded_items(handle, source.spec, strict=strict, on_skip=on_skip)
            else:
                yield from _payload_items(iter(handle), source.spec, strict=strict, on_skip=on_skip)


def _history_items(source: Source) -> Iterator[ReplayItem]:
    """The history's requests (one run, or every run), oldest first, streamed from the database."""
    from whatsable_cli.recording.history import opened_history
    from whatsable_cli.recording.history_queries import Selection, select_rows
    from whatsable_cli.recording.query import Filters

    origin = HISTORY if source.run is None else f"run {source.run}"
    selection = Selection(Filters(ids=source.ids), run=source.run)
    with opened_history(source.path) as history:
        for _, _, request in select_rows(history, selection, newest_first=False):
            if request.body_omitted:  # still selected by the filters, then skipped and counted by the replay
                reason = f"{origin}: request {request.id} was recorded without its body (over the size limit)"
                yield ReplayItem(
                    origin, b"", [], request.method, request.id, request.received_at, request.event_type, reason
                )
                continue
            headers = request.headers
            if "decoded" in request.flags:  # the body was recorded decompressed: its Content-Encoding no longer holds
                headers = [(k, v) for k, v in headers if k.lower() != "content-encoding"]
            yield ReplayItem(
                origin,
                request.body_bytes,
                headers,
                request.method,
                request.id,
                request.received_at,
                request.event_type,
            )
