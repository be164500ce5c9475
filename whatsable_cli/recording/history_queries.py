"""Reading the history: selected requests with their forwards (newest first, or tailed), one by id, the runs.

The filters `events list` and `replay` share become SQL (run, event type, data.status, time window, id
prefixes, full-text search), except `--where`, checked on each candidate's body; rows are streamed
from a cursor, so memory does not grow with the history.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from whatsable_cli.errors import BadInputError
from whatsable_cli.recording.history import History
from whatsable_cli.recording.history_index import ids_condition, index_for_search, top_seq
from whatsable_cli.recording.history_rows import REQUEST_COLUMNS, forward_from_row, request_from_row
from whatsable_cli.recording.lines import ForwardRecord, RecordedRequest, the_one_match
from whatsable_cli.recording.query import EventRow, Filters, accepts_request

_FORWARD_BATCH = 200
_ID_END = "\U0010ffff"  # above every character: [prefix, prefix + this) holds every id starting with prefix


def _as_text(value: str) -> str:
    """What a user typed, as SQLite text: bytes that were not UTF-8 (surrogate escapes from the command
    line) become U+FFFD, which no recorded id holds and no search matches."""
    return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


@dataclass(frozen=True)
class Selection:
    """Which requests: the shared filters, plus a run and a full-text search."""

    filters: Filters = field(default_factory=Filters)
    run: int | None = None
    search: str | None = None


def resolve_run(history: History, spec: str) -> int:
    """`latest` (the newest run) or a run's number; anything else is bad input (exit 7)."""
    if spec == "latest":
        found = history.conn.execute("SELECT max(id) FROM runs").fetchone()
        if found[0] is None:
            raise BadInputError(
                "the history has no runs yet", hint="run `whatsable listen` to record events", code="no_runs"
            )
        return int(found[0])
    number = int(spec) if spec.isascii() and spec.isdigit() and len(spec) < 19 else None  # SQLite's 64-bit range
    if number is None or history.conn.execute("SELECT 1 FROM runs WHERE id = ?", (number,)).fetchone() is None:
        raise BadInputError(
            f"no run {spec!r} in the history",
            hint="use a number from `whatsable events runs`, or --run latest",
            code="unknown_run",
        )
    return number


def fts_query(text: str) -> str:
    """The words of `--search` as an FTS5 query that matches them all, in any order: each word quoted (so
    `+8801…`, `don't` or `AND` are plain text), a trailing `*` kept as a prefix search."""
    terms = []
    for word in _as_text(text).replace("\x00", " ").split():
        prefix = word.endswith("*") and len(word) > 1
        word = word.rstrip("*") if prefix else word
        terms.append('"' + word.replace('"', '""') + '"' + ("*" if prefix else ""))
    if not terms:
        raise BadInputError("--search needs some text", hint="e.g. --search 8801734363287", code="empty_search")
    return " ".join(terms)


def shared_conditions(run: int | None, events: Sequence[str], statuses: Sequence[str]) -> tuple[list[str], list[Any]]:
    """The filters the terminal and the inspector both offer, as SQL: a run, event types (as recorded, else
    as parsed), data.status values."""
    clauses: list[str] = []
    params: list[Any] = []
    if run is not None:
        clauses.append("run_id = ?")
        params.append(run)
    if events:
        clauses.append(f"coalesce(event_type, kind) IN ({', '.join('?' * len(events))})")
        params += events
    if statuses:
        clauses.append(f"status IN ({', '.join('?' * len(statuses))})")
        params += statuses
    return clauses, params


def requests_sql(
    clauses: Sequence[str], params: Sequence[Any], search: str | None, *, newest_first: bool, limit: int | None = None
) -> tuple[str, list[Any]]:
    """The SELECT of the requests matching every clause (and the search's words), in recorded order."""
    order = "DESC" if newest_first else "ASC"
    tail, tail_params = (" LIMIT ?", [limit]) if limit is not None else ("", [])
    if search is not None:
        # The index drives (CROSS JOIN keeps it the outer loop), in its own rowid order: a search stops as
        # soon as enough rows matched, however many requests the history holds.
        where = " AND ".join(["requests_fts MATCH ?", *clauses])
        sql = (
            f"SELECT {REQUEST_COLUMNS} FROM requests_fts CROSS JOIN requests ON requests.seq = requests_fts.rowid "  # noqa: S608 (constants)
            f"WHERE {where} ORDER BY requests_fts.rowid {order}{tail}"
        )
        return sql, [fts_query(search), *params, *tail_params]
    where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
    return f"SELECT {REQUEST_COLUMNS} FROM requests {where}ORDER BY seq {order}{tail}", [*params, *tail_params]  # noqa: S608


def _query(
    conn: sqlite3.Connection, selection: Selection, *, newest_first: bool, after: int | None, through: int | None = None
) -> tuple[str, list[Any]]:
    filters = selection.filters
    clauses, params = shared_conditions(selection.run, filters.events, filters.statuses)
    if filters.since is not None:
        clauses.append("received_ms >= ?")
        params.append(int(filters.since.timestamp() * 1000))
    if filters.until is not None:
        clauses.append("received_ms <= ?")
        params.append(int(filters.until.timestamp() * 1000))
    if filters.ids:
        prefixes = [_as_text(prefix) for prefix in filters.ids]
        clause, id_params = ids_condition(
            conn,
            " OR ".join("(id >= ? AND id < ?)" for _ in prefixes),
            [bound for prefix in prefixes for bound in (prefix, prefix + _ID_END)],
        )
        clauses.append(clause)
        params += id_params
    if after is not None:
        clauses.append("seq > ?")
        params.append(after)
    if through is not None:
        clauses.append("seq <= ?")
        params.append(through)
    return requests_sql(clauses, params, selection.search, newest_first=newest_first)


def select_rows(
    history: History,
    selection: Selection,
    *,
    newest_first: bool = True,
    after: int | None = None,
    through: int | None = None,
) -> Iterator[tuple[int, int | None, RecordedRequest]]:
    """(seq, run, request) of each selected request, streamed; --where is checked here, --last is the caller's."""
    sql, params = _query(history.conn, selection, newest_first=newest_first, after=after, through=through)
    where_only = Filters(where=selection.filters.where) if selection.filters.where else None
    for row in history.conn.execute(sql, params):
        request = request_from_row(row)
        if where_only is not None and not accepts_request(where_only, request):
            continue
        yield row[0], row[2], request


@dataclass
class HistoryRow(EventRow):
    """A selected request with its forwards, its run and its place in the history."""

    run: int | None = None
    seq: int = 0


def forwards_for(history: History, request_ids: Sequence[str]) -> dict[str, list[ForwardRecord]]:
    found: dict[str, list[ForwardRecord]] = {}
    if not request_ids:
        return found
    marks = ", ".join("?" * len(request_ids))
    sql = f"SELECT request_id, attempt, at, ok, result FROM forwards WHERE request_id IN ({marks}) ORDER BY rowid"  # noqa: S608
    for row in history.conn.execute(sql, list(request_ids)):
        found.setdefault(row[0], []).append(forward_from_row(row))
    return found


def _with_forwards(history: History, rows: Iterable[tuple[int, int | None, RecordedRequest]]) -> Iterator[HistoryRow]:
    batch: list[tuple[int, int | None, RecordedRequest]] = []

    def flush() -> Iterator[HistoryRow]:
        forwards = forwards_for(history, [request.id for _, _, request in batch])
        for seq, run, request in batch:
            row = HistoryRow(request, run=run, seq=seq)
            for record in forwards.get(request.id, []):
                row.add_forward(record)
            yield row
        batch.clear()

    for item in rows:
        batch.append(item)
        if len(batch) >= _FORWARD_BATCH:
            yield from flush()
    yield from flush()


class Page:
    """At most `limit` rows, newest first; after iterating, `more` says whether another one matched."""

    def __init__(self, rows: Iterator[HistoryRow], limit: int | None) -> None:
        self._rows = rows
        self._limit = limit
        self.count = 0
        self.more = False

    def __iter__(self) -> Iterator[HistoryRow]:
        for row in self._rows:
            if self._limit is not None and self.count >= self._limit:
                self.more = True
                return
            self.count += 1
            yield row


def history_rows(history: History, selection: Selection, *, limit: int | None = None) -> Page:
    """The selected requests, newest first, at most `limit`, each with its forwards."""
    rows = select_rows(history, selection)
    if limit is not None:
        rows = _take(rows, limit + 1)  # one more, to know whether there are more
    return Page(_with_forwards(history, rows), limit)


def _take(items: Iterator[Any], count: int) -> Iterator[Any]:
    for index, item in enumerate(items):
        if index >= count:
            return
        yield item


def follow_rows(
    history: History,
    selection: Selection,
    *,
    backlog: int,
    interval: float = 0.25,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[HistoryRow]:
    """The last `backlog` selected requests (oldest of them first), then each new one as it is recorded,
    until the caller stops iterating (Ctrl-C). Polls the history by its insertion order every `interval`."""
    seen = top_seq(history.conn)
    recent = list(_take(select_rows(history, selection, through=seen), backlog)) if backlog else []
    yield from _with_forwards(history, reversed(recent))
    while True:
        if selection.search:  # what was recorded since must be in the index to be found
            index_for_search(history)
        # Up to the newest seq read first: every row up to it is committed (two writers commit in seq order),
        # so nothing recorded meanwhile is skipped, and nothing is shown twice.
        top = top_seq(history.conn)
        if top > seen:
            yield from _with_forwards(
                history, select_rows(history, selection, newest_first=False, after=seen, through=top)
            )
            seen = top
        else:
            sleep(interval)


def find_in_history(history: History, id_prefix: str) -> tuple[RecordedRequest, int | None]:
    """The one request whose id is `id_prefix` or starts with it, across every run, and its run."""
    if not id_prefix:
        raise BadInputError("an empty id", hint="list the ids with `whatsable events list`", code="unknown_id")
    id_prefix = _as_text(id_prefix)
    conn = history.conn
    where, params = ids_condition(conn, "id = ?", [id_prefix])
    exact = conn.execute(f"SELECT {REQUEST_COLUMNS} FROM requests WHERE {where} LIMIT 1", params).fetchone()  # noqa: S608
    if exact is not None:
        return request_from_row(exact), exact[2]
    where, params = ids_condition(conn, "id >= ? AND id < ?", [id_prefix, id_prefix + _ID_END])
    sql = f"SELECT {REQUEST_COLUMNS} FROM requests WHERE {where} ORDER BY id LIMIT 2"  # noqa: S608 (constants)
    matches = conn.execute(sql, params).fetchall()
    hint = "list the ids with `whatsable events list` (or --record FILE for a JSON Lines recording)"
    found = the_one_match(matches, id_prefix, f"the history ({history.path})", hint)
    return request_from_row(found), found[2]


def forwards_of_request(history: History, request_id: str) -> list[ForwardRecord]:
    return forwards_for(history, [request_id]).get(request_id, [])


def export_lines(history: History, selection: Selection) -> Iterator[bytes]:
    """The selected requests as a JSON Lines recording, oldest first, each request's forward results after it:
    each line byte for byte the one `listen --record` wrote."""
    rows = _with_forwards(history, select_rows(history, selection, newest_first=False))
    for row in rows:
        yield row.request.to_json_line()
        for record in row.forwards:
            yield record.to_json_line()


@dataclass(frozen=True)
class RunRow:
    """One run of `events runs`."""

    id: int
    source: str
    origin: str | None
    started_at: str
    ended_at: str | None
    host: str | None
    port: int | None
    public_url: str | None
    events: int
    kept: int  # its requests still in the history (fewer once pruned)
    forwards_ok: int
    forwards_failed: int
    signatures_failed: int
    record_errors: int


def list_runs(history: History, *, last: int | None = None) -> list[RunRow]:
    """The runs, newest first. A run that has not ended (still running, or killed) has no counts of its own
    yet: those of what it recorded are shown."""
    conn = history.conn
    kept = dict(conn.execute("SELECT run_id, count(*) FROM requests GROUP BY run_id").fetchall())
    sql = (
        "SELECT id, source, origin, started_at, ended_at, host, port, public_url, events, forwards_ok, "
        "forwards_failed, signatures_failed, record_errors FROM runs ORDER BY id DESC"
    )
    rows = []
    for row in conn.execute(sql + (" LIMIT ?" if last else ""), (last,) if last else ()).fetchall():
        (run_id, source, origin, started, ended, host, port, public_url, events, ok, failed, bad_sigs, errors) = row
        if ended is None and source == "listen":
            events, ok, failed, bad_sigs = _recorded_counts(history, run_id, kept.get(run_id, 0))
        rows.append(
            RunRow(
                run_id, source, origin, started, ended, host, port, public_url, events, kept.get(run_id, 0), ok,
                failed, bad_sigs, errors,
            )
        )  # fmt: skip
    return rows


def _recorded_counts(history: History, run_id: int, events: int) -> tuple[int, int, int, int]:
    conn = history.conn
    forwards = dict(
        conn.execute(
            "SELECT ok, count(*) FROM forwards WHERE request_id IN (SELECT id FROM requests WHERE run_id = ?) "
            "GROUP BY ok",
            (run_id,),
        ).fetchall()
    )
    (bad_sigs,) = conn.execute(
        "SELECT count(*) FROM requests WHERE run_id = ? AND sig_result = 'failed'", (run_id,)
    ).fetchone()
    return events, forwards.get(1, 0), forwards.get(0, 0), bad_sigs
