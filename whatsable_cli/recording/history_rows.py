"""A request and a forward result as rows of the history, and back: the row's recording line is the one recorded.

A row holds everything a recording line does: the body as its exact bytes, the headers as recorded, the
signature verdict, the flags and the answer, with the fields the filters select by (event type,
data.status, the received time in milliseconds). Built once per received request, on the listener's
hot path: kept lean.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii as _ascii
from typing import Any

from whatsable_cli.delivery.results import DeliveryResult
from whatsable_cli.recording.lines import ForwardRecord, RecordedRequest, encode_body
from whatsable_cli.webhooks.events import SignatureCheck

REQUEST_COLUMNS = (
    "seq, id, run_id, received_at, received_ms, method, path, query, headers, body, body_encoding, body_size, "
    "body_omitted, event_type, kind, status, sig_result, sig_scheme, sig_reason, sig_detail, response_status, flags"
)
BODY = 9  # the body's position in a request row
_ROW = f"({', '.join('?' * 22)})"
INSERT_REQUEST = f"INSERT INTO requests ({REQUEST_COLUMNS}) VALUES {_ROW}"  # noqa: S608 (constants)
ROWS_PER_INSERT = 32


@functools.lru_cache(maxsize=ROWS_PER_INSERT)
def insert_rows_sql(count: int) -> str:
    """One INSERT of `count` rows: a single call into SQLite instead of one per row."""
    return f"INSERT INTO requests ({REQUEST_COLUMNS}) VALUES {', '.join([_ROW] * count)}"  # noqa: S608 (constants)


INSERT_FORWARD = "INSERT INTO forwards (request_id, attempt, at, ok, result) VALUES (?, ?, ?, ?, ?)"

Row = tuple[Any, ...]
Staged = tuple[RecordedRequest, str | None]  # a request and its data.status


@dataclass
class Batch:
    """Rows for one transaction: requests (REQUEST_COLUMNS order) and forward results."""

    requests: list[Row]
    forwards: list[Row]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _EpochMs:
    """An ISO 8601 time as Unix milliseconds; a burst of requests shares one value, parsed once."""

    def __init__(self) -> None:
        self._text = ""
        self._value: int | None = None

    def __call__(self, text: str) -> int | None:
        if text != self._text:
            try:
                when = datetime.fromisoformat(text)
                when = when if when.tzinfo else when.replace(tzinfo=UTC)
                self._value = int(when.timestamp() * 1000)
            except (ValueError, OverflowError, OSError):
                self._value = None
            self._text = text
        return self._value


epoch_ms = _EpochMs()


def _headers_json(headers: list[tuple[str, str]]) -> str:
    """[[name, value], ...] as compact JSON, ASCII-escaped (a value holding bytes that were not UTF-8 survives
    as \\udcxx escapes), built with json's own C escaper: json.dumps costs several times more per call."""
    return "[" + ",".join([f"[{_ascii(name)},{_ascii(value)}]" for name, value in headers]) + "]"


def _stored_text(value: str) -> str | bytes:
    """Text as SQLite text; text holding bytes that were not UTF-8 (surrogate escapes) as those bytes."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape")
    return value


def _loaded_text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


def _stored_encoding(request: RecordedRequest, body: bytes) -> str | None:
    """None when the line's body_encoding is the one encode_body would pick again, else the line's own."""
    if request.body_encoding == "utf-8":
        return None
    if request.body_encoding == "base64":
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return request.body_encoding


def request_row(
    seq: int | None, run_id: int | None, request: RecordedRequest, status: str | None, kind: str | None
) -> Row:
    """A request as a row of `requests` (in REQUEST_COLUMNS order). Once per received request: kept lean."""
    body = request.body_bytes
    sig = request.signature
    return (
        seq,
        request.id,
        run_id,
        request.received_at,
        epoch_ms(request.received_at),
        request.method,
        _stored_text(request.path),
        _stored_text(request.query),
        _headers_json(request.headers),
        body,
        _stored_encoding(request, body),
        request.body_size,
        request.body_omitted,
        request.event_type,
        kind if request.event_type is None else None,
        status,
        None if sig is None else sig.result,
        None if sig is None else sig.scheme,
        None if sig is None else sig.reason,
        None if sig is None else sig.detail,
        request.response_status,
        "[" + ",".join(map(_ascii, request.flags)) + "]" if request.flags else None,
    )


def request_from_row(row: Sequence[Any]) -> RecordedRequest:
    """The RecordedRequest a row holds (its recording line is the one it was recorded with)."""
    body: bytes = row[BODY]
    encoding = row[10]
    if encoding is None:
        text, encoding = encode_body(body)
    elif encoding == "base64":
        text = base64.b64encode(body).decode("ascii")
    else:
        text = body.decode("utf-8")
    return RecordedRequest(
        id=row[1],
        received_at=row[3],
        method=row[5],
        path=_loaded_text(row[6]),
        query=_loaded_text(row[7]),
        headers=[(str(name), str(value)) for name, value in json.loads(row[8])],
        body=text,
        body_encoding=encoding,
        body_size=row[11],
        body_omitted=bool(row[12]),
        event_type=row[13],
        signature=None if row[16] is None else SignatureCheck(row[16], row[17], row[18], row[19]),
        response_status=row[20],
        flags=json.loads(row[21]) if row[21] else [],
    )


def forward_row(record: ForwardRecord) -> Row:
    result = json.dumps(record.result.to_dict())
    return (record.request_id, record.attempt, record.at, record.result.ok, result)


def forward_from_row(row: Sequence[Any]) -> ForwardRecord:
    """(request_id, attempt, at, ok, result) back into the ForwardRecord it was."""
    return ForwardRecord(row[0], DeliveryResult.from_dict(json.loads(row[4])), row[1], row[2])
