"""Keeping the history bounded: `events prune --older-than/--keep/--max-size` and the size cap `listen` applies.

The oldest requests go first, with their forward results, replays and index entries, a batch per transaction
(a listener writing meanwhile waits for one batch at most). Freed pages are reused by later writes; the
file itself does not shrink.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from whatsable_cli.recording.history import History
from whatsable_cli.recording.history_index import lower_mark, unindex

DEFAULT_MAX_SIZE = 1 << 30  # 1 GiB: about a million typical events
_BATCH = 2000
_CAP_TARGET = 0.9  # a cap prunes down to 90% of it, so the next start does not prune again at once


@dataclass
class PruneResult:
    """What a prune removed, and the history's size (its pages in use) before and after."""

    requests: int = 0
    forwards: int = 0
    runs: int = 0
    size_before: int = 0
    size_after: int = 0


def used_bytes(history: History) -> int:
    """The pages in use (the file less its free pages), what the size cap measures."""
    conn = history.conn
    (pages,) = conn.execute("PRAGMA page_count").fetchone()
    (free,) = conn.execute("PRAGMA freelist_count").fetchone()
    (size,) = conn.execute("PRAGMA page_size").fetchone()
    return int((pages - free) * size)


def _delete_through(
    history: History, last_seq: int, result: PruneResult, *, where: str = "", params: tuple[int, ...] = ()
) -> None:
    """Delete the requests up to `last_seq` (and matching `where`), oldest first, in batches."""
    select = f"SELECT seq, id FROM requests WHERE seq <= ? {where} ORDER BY seq LIMIT ?"  # noqa: S608 (constants)
    while True:
        with history.transaction() as conn:
            rows = conn.execute(select, (last_seq, *params, _BATCH)).fetchall()
            if not rows:
                return
            unindex(conn, [(row[0], row[1]) for row in rows])
            ids = [(row[1],) for row in rows]
            before = conn.total_changes
            conn.executemany("DELETE FROM forwards WHERE request_id = ?", ids)
            result.forwards += conn.total_changes - before
            conn.executemany("DELETE FROM replays WHERE request_id = ?", ids)
            conn.executemany("DELETE FROM requests WHERE seq = ?", [(row[0],) for row in rows])
            result.requests += len(rows)
        if len(rows) < _BATCH:
            return


def _drop_empty_runs(history: History, result: PruneResult) -> None:
    """Runs left with no request (a listener still running has no end yet and stays)."""
    with history.transaction() as conn:
        cursor = conn.execute(
            "DELETE FROM runs WHERE (ended_at IS NOT NULL OR source = 'import') "
            "AND NOT EXISTS (SELECT 1 FROM requests WHERE requests.run_id = runs.id)"
        )
        result.runs += cursor.rowcount


def _top_seq(history: History) -> int:
    (top,) = history.conn.execute("SELECT coalesce(max(seq), 0) FROM requests").fetchone()
    return int(top)


def prune(
    history: History, *, older_than: datetime | None = None, keep: int | None = None, max_size: int | None = None
) -> PruneResult:
    """Remove requests received before `older_than`, all but the newest `keep`, and the oldest until the
    history's pages in use are under `max_size` (each given one applies)."""
    result = PruneResult(size_before=used_bytes(history))
    if older_than is not None:
        cutoff = int(older_than.timestamp() * 1000)
        _delete_through(history, _top_seq(history), result, where="AND received_ms < ?", params=(cutoff,))
    if keep is not None:
        found = history.conn.execute("SELECT seq FROM requests ORDER BY seq DESC LIMIT 1 OFFSET ?", (keep,)).fetchone()
        if found is not None:
            _delete_through(history, int(found[0]), result)
    if max_size is not None:
        _shrink_to(history, max_size, result)
    if result.requests:
        _drop_empty_runs(history, result)
        with history.transaction() as conn:
            lower_mark(conn)
    result.size_after = used_bytes(history)
    return result


def _shrink_to(history: History, max_size: int, result: PruneResult) -> None:
    used = used_bytes(history)
    if used <= max_size:
        return
    (count,) = history.conn.execute("SELECT count(*) FROM requests").fetchone()
    if not count:
        return
    per_request = used / count
    excess = math.ceil((used - max_size * _CAP_TARGET) / per_request)
    found = history.conn.execute(
        "SELECT seq FROM requests ORDER BY seq LIMIT 1 OFFSET ?", (min(excess, count) - 1,)
    ).fetchone()
    if found is not None:
        _delete_through(history, int(found[0]), result)


def enforce_cap(history: History, max_size: int | None) -> PruneResult | None:
    """The size cap: None when the history is within it (or there is none), else what was pruned."""
    if not max_size or used_bytes(history) <= max_size:
        return None
    return prune(history, max_size=max_size)
