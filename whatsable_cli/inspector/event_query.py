"""The event list's filters: parsed from the page's address, checked, and turned into SQL over the history.

Run, event type and status as the history's own selection has them; the signature verdict and how the
latest forward went too; the search box through the history's full-text index.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from whatsable_cli.recording.history_queries import requests_sql, shared_conditions
from whatsable_cli.webhooks.events import EVENT_KINDS, KIND_EMPTY, KIND_NOT_JSON, KIND_UNKNOWN, STATUSES

EVENT_CHOICES = (*EVENT_KINDS, KIND_UNKNOWN, KIND_NOT_JSON, KIND_EMPTY)
STATUS_CHOICES = STATUSES
VERDICT_CHOICES = ("verified", "failed", "unsigned", "unchecked", "none")  # none: recorded without a verdict
FORWARD_CHOICES = ("ok", "failed", "none")  # how the latest forward went; none: not forwarded
MAX_PAGE = 500
MAX_SEARCH = 500
_LAST_FORWARD_OK = (
    "(SELECT ok FROM forwards WHERE forwards.request_id = requests.id ORDER BY forwards.rowid DESC LIMIT 1)"
)


class QueryError(ValueError):
    """A filter value the page should not have sent (a typo in a hand-edited URL)."""


@dataclass(frozen=True)
class EventQuery:
    """One page of the event list: its filters (all must match) and where the page starts."""

    events: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    verdict: str | None = None
    forward: str | None = None
    run: int | None = None
    search: str | None = None
    before: int | None = None  # only rows older than this seq (the next page)
    limit: int = 100


def _choices(name: str, values: Sequence[str], valid: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(part for value in values for part in value.split(",") if part)
    for value in chosen:
        if value not in valid:
            raise QueryError(f"unknown {name} {value!r} (one of: {', '.join(valid)})")
    return chosen


def _one(name: str, value: str | None, valid: Sequence[str]) -> str | None:
    if not value:
        return None
    if value not in valid:
        raise QueryError(f"unknown {name} {value!r} (one of: {', '.join(valid)})")
    return value


def _number(name: str, value: str | None, *, low: int = 0, high: int = 2**62) -> int | None:
    if value is None or value == "":
        return None
    if not value.isdigit() or not low <= int(value) <= high:
        raise QueryError(f"{name} must be a number from {low} to {high}, not {value[:40]!r}")
    return int(value)


def searchable(text: str) -> str:
    """The search box's text as words for the index: control characters (a NUL ends FTS5's query text early,
    leaving a quote open) become spaces."""
    return " ".join("".join(" " if ord(char) < 0x20 or ord(char) == 0x7F else char for char in text).split())


def parse_query(get_all: Callable[[str], list[str]]) -> EventQuery:
    """An EventQuery from a URL's query parameters (`get_all(name)`: every value given for it)."""

    def first(name: str) -> str | None:
        values = get_all(name)
        return values[-1] if values else None

    search = searchable(first("q") or "") or None
    if search is not None and len(search) > MAX_SEARCH:
        raise QueryError(f"the search is longer than {MAX_SEARCH} characters")
    return EventQuery(
        events=_choices("event", get_all("event"), EVENT_CHOICES),
        statuses=_choices("status", get_all("status"), STATUS_CHOICES),
        verdict=_one("signature", first("signature"), VERDICT_CHOICES),
        forward=_one("forward", first("forward"), FORWARD_CHOICES),
        run=_number("run", first("run")),
        search=search,
        before=_number("before", first("before")),
        limit=_number("limit", first("limit"), low=1, high=MAX_PAGE) or 100,
    )


def select_sql(
    query: EventQuery, extra: list[str], extra_params: list[Any], *, newest_first: bool
) -> tuple[str, list[Any]]:
    """The page's SELECT: the history's own filters and search, plus the verdict and the latest forward."""
    clauses, params = shared_conditions(query.run, query.events, query.statuses)
    if query.verdict == "none":
        clauses.append("sig_result IS NULL")
    elif query.verdict is not None:
        clauses.append("sig_result = ?")
        params.append(query.verdict)
    if query.forward == "none":
        clauses.append(f"{_LAST_FORWARD_OK} IS NULL")
    elif query.forward is not None:
        clauses.append(f"{_LAST_FORWARD_OK} = ?")
        params.append(1 if query.forward == "ok" else 0)
    words = searchable(query.search or "") or None
    return requests_sql(
        [*clauses, *extra], [*params, *extra_params], words, newest_first=newest_first, limit=query.limit
    )
