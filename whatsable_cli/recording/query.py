"""Selecting recorded requests: the filters `events list` and `replay` share, and request rows with forwards."""

from __future__ import annotations

import json
import re
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from whatsable_cli.errors import BadInputError
from whatsable_cli.recording.lines import Entry, ForwardRecord, RecordedRequest
from whatsable_cli.webhooks.events import EVENT_KINDS, KIND_NOT_JSON, KIND_UNKNOWN, STATUSES, ParsedEvent, parse_body

T = TypeVar("T")

# Rows wait this many requests for forward lines appended after them (a forward retried later than that
# is not shown by `events list`; `events show` always scans the whole file).
PENDING_WINDOW = 1000
MAX_FORWARDS_PER_ROW = 20
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class Filters:
    """What to select; every filter given must match (values within one filter are alternatives)."""

    events: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    where: tuple[tuple[str, str], ...] = ()
    ids: tuple[str, ...] = ()
    last: int | None = None

    @property
    def needs_body(self) -> bool:
        return bool(self.statuses or self.where)


def _split(values: Iterable[str] | None) -> tuple[str, ...]:
    """Repeated options and comma-separated lists both work: --event a --event b, --event a,b."""
    return tuple(part.strip() for value in values or () for part in value.split(",") if part.strip())


def _known(option: str, values: tuple[str, ...], valid: tuple[str, ...]) -> tuple[str, ...]:
    """A typo (`--status deliverd`) would match nothing and look like an empty recording: bad input instead."""
    for value in values:
        if value not in valid:
            raise BadInputError(
                f"unknown {option} {value!r}", hint=f"valid values: {', '.join(valid)}", code="invalid_filter"
            )
    return values


def parse_time(text: str, *, now: datetime | None = None) -> datetime:
    """ISO 8601 or a relative age such as 30s, 10m, 2h, 1d, 1w (meaning that long ago).

    A time without an offset is local, as every display shows times: one copied from the screen selects what
    it showed."""
    relative = _RELATIVE.match(text.strip())
    if relative:
        amount, unit = float(relative.group(1)), relative.group(2)
        return (now or datetime.now(UTC)) - timedelta(seconds=amount * _UNIT_SECONDS[unit])
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadInputError(
            f"cannot read the time {text!r}",
            hint="use ISO 8601 (2026-11-25T20:00:00, local time unless an offset is given) or an age like 10m, 2h",
            code="bad_time",
        ) from None
    return parsed if parsed.tzinfo else parsed.astimezone()  # naive: the machine's local time


def build_filters(
    *,
    events: Iterable[str] | None = None,
    statuses: Iterable[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    where: Iterable[str] | None = None,
    ids: Iterable[str] | None = None,
    last: int | None = None,
    now: datetime | None = None,
) -> Filters:
    """Turn option values into Filters; a malformed value is bad input (exit 7)."""
    conditions = []
    for condition in where or ():
        path, sep, value = condition.partition("=")
        if not sep or not path.strip():
            raise BadInputError(
                f"invalid --where {condition!r}",
                hint="use --where path=value, e.g. --where data.phone_number=8801734363287",
                code="invalid_where",
            )
        conditions.append((path.strip(), value))
    if last is not None and last < 1:
        raise BadInputError(f"--last must be at least 1, not {last}", hint="e.g. --last 20", code="invalid_last")
    return Filters(
        events=_known("--event", _split(events), (*EVENT_KINDS, KIND_UNKNOWN, KIND_NOT_JSON)),
        statuses=_known("--status", _split(statuses), STATUSES),
        since=parse_time(since, now=now) if since else None,
        until=parse_time(until, now=now) if until else None,
        where=tuple(conditions),
        ids=_split(ids),
        last=last,
    )


def _lookup(payload: Any, path: str) -> tuple[bool, Any]:
    target = payload
    for key in path.split("."):
        if isinstance(target, dict) and key in target:
            target = target[key]
        elif isinstance(target, list) and key.isdigit() and int(key) < len(target):
            target = target[int(key)]
        else:
            return False, None
    return True, target


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def field_matches(payload: Any, data: Any, path: str, wanted: str) -> bool:
    """`data.phone_number=88017…` matches a string or a number; a path also works inside `data` alone."""
    found, value = _lookup(payload, path)
    if not found and data is not None:
        inner = path.removeprefix("data.")
        found, value = _lookup(data, inner)
    return found and _as_text(value) == wanted


def _payload(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def _in_time_window(filters: Filters, received_at: str | None) -> bool:
    if filters.since is None and filters.until is None:
        return True
    if not received_at:
        return True  # payload files and fixtures have no time; time filters select recorded requests
    try:
        when = datetime.fromisoformat(received_at)
    except ValueError:
        return False
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return (filters.since is None or when >= filters.since) and (filters.until is None or when <= filters.until)


def accepts(
    filters: Filters,
    *,
    request_id: str | None,
    received_at: str | None,
    event_type: str | None,
    body: Callable[[], bytes],
) -> bool:
    """Does one request pass? The body is parsed only when a filter needs it."""
    if filters.ids and (request_id is None or not request_id.startswith(filters.ids)):
        return False
    if not _in_time_window(filters, received_at):
        return False
    parsed: ParsedEvent | None = None
    if filters.events:
        if event_type is None:
            parsed = parse_body(body())
            event_type = parsed.kind
        if event_type not in filters.events:
            return False
    if not filters.needs_body:
        return True
    raw = body()
    parsed = parsed or parse_body(raw)
    if filters.statuses and parsed.status not in filters.statuses:
        return False
    if filters.where:
        payload = _payload(raw)
        return all(field_matches(payload, parsed.data, path, wanted) for path, wanted in filters.where)
    return True


def accepts_request(filters: Filters, request: RecordedRequest) -> bool:
    return accepts(
        filters,
        request_id=request.id,
        received_at=request.received_at,
        event_type=request.event_type,
        body=lambda: request.body_bytes,
    )


def take_last(items: Iterable[T], count: int | None) -> Iterator[T]:
    """All items, or only the last `count` (held in a bounded deque, so memory stays flat)."""
    if count is None:
        yield from items
        return
    yield from deque(items, maxlen=count)


@dataclass
class EventRow:
    """A recorded request and the forward results recorded after it."""

    request: RecordedRequest
    forwards: list[ForwardRecord] = field(default_factory=list)

    def add_forward(self, record: ForwardRecord) -> None:
        self.forwards.append(record)
        if len(self.forwards) > MAX_FORWARDS_PER_ROW:
            del self.forwards[0]  # keep the latest attempts


def event_rows(entries: Iterable[Entry], filters: Filters, *, window: int = PENDING_WINDOW) -> Iterator[EventRow]:
    """Selected requests in file order, each with its forwards; memory is bounded by the window (or --last)."""
    pending: OrderedDict[str, EventRow] = OrderedDict()
    capacity = filters.last or window
    for entry in entries:
        if isinstance(entry, ForwardRecord):
            row = pending.get(entry.request_id)
            if row is not None:
                row.add_forward(entry)
            continue
        if not accepts_request(filters, entry):
            continue
        if entry.id in pending:  # a repeated id: the earlier row is complete
            earlier = pending.pop(entry.id)
            if filters.last is None:
                yield earlier
        pending[entry.id] = EventRow(entry)
        if len(pending) > capacity:
            _, oldest = pending.popitem(last=False)
            if filters.last is None:
                yield oldest
    yield from pending.values()


def forwards_of(entries: Iterable[Entry], request_id: str) -> Iterator[ForwardRecord]:
    """Every forward result recorded for one request (a full streaming pass)."""
    for entry in entries:
        if isinstance(entry, ForwardRecord) and entry.request_id == request_id:
            yield entry
