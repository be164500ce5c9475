"""What the inspector reads from the history, over a read-only connection: filtered pages, new rows, one event.

Beyond the history's own read API (`history_queries`, used for one event, forwards and runs), the page
pages back with a cursor, filters by more than it does (`event_query`), and follows the history as it
grows: new requests, and forwards recorded after their request. The one write is the history's own rule
for searching: first index what the listener recorded but has not indexed yet.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from whatsable_cli.errors import BadInputError
from whatsable_cli.inspector.event_query import MAX_PAGE, EventQuery, select_sql
from whatsable_cli.recording.history import History, request_from_row
from whatsable_cli.recording.history_index import index_for_search, indexed_through
from whatsable_cli.recording.history_queries import (
    HistoryRow,
    RunRow,
    find_in_history,
    forwards_for,
    forwards_of_request,
    list_runs,
)
from whatsable_cli.recording.history_replays import ReplayRecord, add_replay, replays_of
from whatsable_cli.recording.lines import ForwardRecord, RecordedRequest
from whatsable_cli.recording.schema import connect

MAX_LATENCIES = 5000
INDEX_WAIT_S = 0.5  # a busy listener's write lock: the search goes on with the index as it is


@dataclass(frozen=True)
class Tops:
    """The newest request and the newest forward result in the history: what a live page has seen."""

    seq: int = 0
    forward: int = 0


@dataclass(frozen=True)
class LatencyPoint:
    """One forward of a run, for its latency chart."""

    seq: int
    request_id: str
    received_at: str
    attempt: int
    ok: bool
    url: str
    status: int | None
    latency_ms: float | None
    error_code: str | None


class HistoryReader:
    """The history, read only; one connection, used by one thread at a time (calls run in worker threads)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._writer: History | None = None  # opened for the little the inspector writes
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            for conn in (self._conn, self._writer.conn if self._writer else None):
                if conn is not None:
                    conn.close()
            self._conn, self._writer = None, None

    def _writable(self) -> History:
        """A connection of its own for the inspector's only writes: the search index, and replays."""
        if self._writer is None:
            self._writer = History(self.path, connect(self.path, busy_timeout=INDEX_WAIT_S))
        return self._writer

    def _searchable_now(self, history: History) -> None:
        """The full-text index is filled behind the listener's writes: a search first indexes what it has
        not yet (the history's own rule)."""
        (top,) = history.conn.execute("SELECT coalesce(max(seq), 0) FROM requests").fetchone()
        if indexed_through(history.conn) >= top:
            return
        index_for_search(self._writable())

    def add_replay(self, record: ReplayRecord) -> None:
        """Keep a replay with its request (raises sqlite3.Error when the history cannot take it now)."""
        with self._lock:
            add_replay(self._writable().conn, record)

    def replays(self, request_id: str) -> list[ReplayRecord]:
        with self._history() as history:
            return [] if history is None else replays_of(history.conn, request_id)

    @contextmanager
    def _history(self) -> Iterator[History | None]:
        """The history open for reading; None while no run has created it yet."""
        with self._lock:
            if self._conn is None:
                if not self.path.exists():
                    yield None
                    return
                conn = sqlite3.connect(
                    f"{self.path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
                )
                conn.execute("PRAGMA query_only = 1")
                self._conn = conn
            yield History(self.path, self._conn)

    def _rows(self, history: History, sql: str, params: Sequence[Any], search: bool) -> list[HistoryRow]:
        if search:
            self._searchable_now(history)
        rows = [(row[0], row[2], request_from_row(row)) for row in history.conn.execute(sql, params)]
        forwards = forwards_for(history, [request.id for _, _, request in rows])
        return [HistoryRow(request, forwards.get(request.id, []), run=run, seq=seq) for seq, run, request in rows]

    def page(self, query: EventQuery) -> list[HistoryRow]:
        """The newest rows that match, older than `query.before` when given."""
        with self._history() as history:
            if history is None:
                return []
            extra, params = (["seq < ?"], [query.before]) if query.before is not None else ([], [])
            return self._rows(history, *select_sql(query, extra, params, newest_first=True), bool(query.search))

    def tops(self) -> Tops:
        with self._history() as history:
            if history is None:
                return Tops()
            (seq,) = history.conn.execute("SELECT coalesce(max(seq), 0) FROM requests").fetchone()
            (forward,) = history.conn.execute("SELECT coalesce(max(rowid), 0) FROM forwards").fetchone()
            return Tops(int(seq), int(forward))

    def newer(self, query: EventQuery, seen: Tops, now: Tops) -> tuple[list[HistoryRow], list[HistoryRow]]:
        """(requests recorded since `seen`, oldest first; earlier requests whose forwards came since), both
        only as far as `now` and only those that match."""
        with self._history() as history:
            if history is None:
                return [], []
            added: list[HistoryRow] = []
            if now.seq > seen.seq:
                sql, params = select_sql(
                    replace(query, limit=MAX_PAGE),
                    ["seq > ?", "seq <= ?"],
                    [seen.seq, now.seq],
                    newest_first=False,
                )
                added = self._rows(history, sql, params, bool(query.search))
            updated: list[HistoryRow] = []
            if now.forward > seen.forward:
                ids = [
                    request_id
                    for (request_id,) in history.conn.execute(
                        "SELECT DISTINCT request_id FROM forwards WHERE rowid > ? AND rowid <= ? LIMIT ?",
                        (seen.forward, now.forward, MAX_PAGE),
                    )
                ]
                fresh = {row.request.id for row in added}
                ids = [request_id for request_id in ids if request_id not in fresh]
                if ids:
                    marks = ", ".join("?" * len(ids))
                    sql, params = select_sql(
                        replace(query, limit=MAX_PAGE),
                        [f"id IN ({marks})", "seq <= ?"],
                        [*ids, seen.seq],
                        newest_first=False,
                    )
                    updated = self._rows(history, sql, params, bool(query.search))
            return added, updated

    def event(self, request_id: str) -> tuple[RecordedRequest, int | None, list[ForwardRecord]] | None:
        """One request by id (or an unambiguous prefix), its run and its forwards; None when there is none."""
        with self._history() as history:
            if history is None:
                return None
            try:
                request, run = find_in_history(history, request_id)
            except BadInputError:  # no such id, or a prefix of several
                return None
            return request, run, forwards_of_request(history, request.id)

    def runs(self, last: int = 100) -> list[RunRow]:
        with self._history() as history:
            return [] if history is None else list_runs(history, last=last)

    def latencies(self, run: int) -> list[LatencyPoint]:
        """Every forward of a run's requests, in the order they were recorded (the first MAX_LATENCIES)."""
        with self._history() as history:
            if history is None:
                return []
            sql = (
                "SELECT requests.seq, requests.id, requests.received_at, forwards.attempt, forwards.ok, "
                "forwards.result FROM forwards JOIN requests ON requests.id = forwards.request_id "
                "WHERE requests.run_id = ? ORDER BY forwards.rowid LIMIT ?"
            )
            points = []
            for seq, request_id, received_at, attempt, ok, result in history.conn.execute(sql, (run, MAX_LATENCIES)):
                fields = _json_object(result)
                points.append(
                    LatencyPoint(
                        seq=seq,
                        request_id=request_id,
                        received_at=received_at,
                        attempt=attempt,
                        ok=bool(ok),
                        url=str(fields.get("url", "")),
                        status=_int_or_none(fields.get("status")),
                        latency_ms=_float_or_none(fields.get("latency_ms")),
                        error_code=fields.get("error_code") if isinstance(fields.get("error_code"), str) else None,
                    )
                )
            return points


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
