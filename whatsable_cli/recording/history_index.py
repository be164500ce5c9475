"""The history's indexes filled behind the writes, not during them: request ids and the bodies' full text.

Indexing a body costs about as much CPU as recording it, and on a busy listener that CPU is the event
loop's (or the core its load arrives on); ids are random, so indexing each as it is written touches a
random page of the id index, and every commit writes those pages out again. So a listener's commit
indexes neither: a low-priority thread indexes what it recorded while it is idle (so its Python text
function does not contend for the GIL with a busy event loop), a search first indexes whatever is still
missing, and a lookup by id reads the id index up to the mark and the few requests after it directly.
Everything up to a mark (in `meta`) is in both indexes. The full-text index is contentless (the text is
not stored twice): an entry is removed by giving the index the very text it was given, which search_text
computes the same way each time.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from whatsable_cli.recording.history import History
from whatsable_cli.recording.schema import connect
from whatsable_cli.recording.search_text import SQL_FUNCTION

MARK = "indexed_seq"  # every request with a seq up to this is in both indexes
SEARCH_TEXT = f"{SQL_FUNCTION}(body)"  # search_text, registered on each connection
_INDEX = (
    f"INSERT INTO requests_fts (rowid, text) SELECT seq, {SEARCH_TEXT} FROM requests "  # noqa: S608 (constants)
    "WHERE seq > ? AND seq <= ?"
)
# OR IGNORE: an import enters its requests' ids as it adds them (to tell the ones it already has).
_INDEX_IDS = "INSERT OR IGNORE INTO request_ids (id, seq) SELECT id, seq FROM requests WHERE seq > ? AND seq <= ?"
_UNINDEX = (
    f"INSERT INTO requests_fts (requests_fts, rowid, text) SELECT 'delete', seq, {SEARCH_TEXT} FROM requests "  # noqa: S608
    "WHERE seq = ?"
)


def top_seq(conn: sqlite3.Connection) -> int:
    (top,) = conn.execute("SELECT coalesce(max(seq), 0) FROM requests").fetchone()
    return int(top)


def indexed_through(conn: sqlite3.Connection) -> int:
    """Every request up to this seq is in the index (the ones above it are not yet)."""
    found = conn.execute("SELECT value FROM meta WHERE key = ?", (MARK,)).fetchone()
    return int(found[0]) if found else 0


def _set_mark(conn: sqlite3.Connection, seq: int) -> None:
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (MARK, str(seq)))


def index_pending(conn: sqlite3.Connection, limit: int | None = None) -> int:
    """Index up to `limit` requests not yet indexed, inside the caller's write transaction; how many."""
    mark = indexed_through(conn)
    if limit is None:
        top = top_seq(conn)
    else:
        (found,) = conn.execute(
            "SELECT max(seq) FROM (SELECT seq FROM requests WHERE seq > ? ORDER BY seq LIMIT ?)", (mark, limit)
        ).fetchone()
        top = mark if found is None else int(found)
    if top <= mark:
        return 0
    conn.execute(_INDEX_IDS, (mark, top))
    conn.execute(_INDEX, (mark, top))
    _set_mark(conn, top)
    return top - mark


def _index_batch(conn: sqlite3.Connection, size: int) -> int:
    conn.execute("BEGIN IMMEDIATE")
    try:
        done = index_pending(conn, size)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return done


def catch_up(conn: sqlite3.Connection, *, batch: int = 5000) -> None:
    """Index everything recorded so far, a batch per transaction (a listener writing meanwhile waits for one)."""
    while _index_batch(conn, batch):
        pass


def index_for_search(history: History) -> None:
    """Before a search: index what is missing. A history this process may not write to (read-only, or held
    by another writer) is searched as far as it is indexed."""
    try:
        catch_up(history.conn)
    except sqlite3.OperationalError as exc:
        if "readonly" not in str(exc) and "locked" not in str(exc):
            raise


def unindex(conn: sqlite3.Connection, requests: list[tuple[int, str]]) -> None:
    """Remove the index entries of these requests, (seq, id) each (inside the caller's transaction, before
    the rows go)."""
    mark = indexed_through(conn)
    conn.executemany(_UNINDEX, [(seq,) for seq, _ in requests if seq <= mark])
    conn.executemany("DELETE FROM request_ids WHERE id = ? AND seq = ?", [(id_, seq) for seq, id_ in requests])


def add_id(conn: sqlite3.Connection, request_id: str, seq: int) -> None:
    """Enter a request's id now, ahead of the mark (an import, which must tell the ids it already has)."""
    conn.execute("INSERT OR IGNORE INTO request_ids (id, seq) VALUES (?, ?)", (request_id, seq))


def indexed_seq_of(conn: sqlite3.Connection, request_id: str) -> int | None:
    """The seq of the request with this id, from the id index alone: for a caller that keeps every request
    in it (an import: everything indexed first, and each request it adds entered with add_id)."""
    found = conn.execute("SELECT seq FROM request_ids WHERE id = ?", (request_id,)).fetchone()
    return None if found is None else int(found[0])


def ids_condition(conn: sqlite3.Connection, id_where: str, params: Sequence[Any]) -> tuple[str, list[Any]]:
    """A WHERE clause on `requests` for the requests whose id matches `id_where` (a condition on `id`, with
    its `params`): through the id index up to the mark, and directly among the requests after it."""
    clause = f"(seq IN (SELECT seq FROM request_ids WHERE {id_where}) OR (seq > ? AND ({id_where})))"  # noqa: S608
    return clause, [*params, indexed_through(conn), *params]


def lower_mark(conn: sqlite3.Connection) -> None:
    """After the newest requests were removed, their seq numbers are given out again: index those again too."""
    top = top_seq(conn)
    if indexed_through(conn) > top:
        _set_mark(conn, top)


class Indexer(threading.Thread):
    """A listener's helper: while the listener is idle (no commit for a moment), index what it recorded.

    It runs at the lowest CPU priority where the system allows it, so it takes only CPU nobody else wants,
    and in small batches, so a request that arrives meanwhile waits for one batch at most.
    """

    def __init__(
        self,
        path: Path,
        last_write: Callable[[], float],
        *,
        interval: float = 0.5,
        idle: float = 0.5,
        batch: int = 100,
    ) -> None:
        super().__init__(name="whatsable-history-indexer", daemon=True)
        self._path = path
        self._last_write = last_write  # when the listener last committed (monotonic)
        self._interval = interval
        self._idle = idle
        self._batch = batch
        self._halt = threading.Event()
        self.error: str | None = None

    def run(self) -> None:
        with contextlib.suppress(AttributeError, OSError):  # per-thread priority: Linux
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        try:
            conn = connect(self._path)
        except Exception as exc:  # the listener goes on; a search indexes what this did not
            self.error = str(exc)
            return
        try:
            while not self._halt.wait(self._interval):
                self._work(conn)
        finally:
            conn.close()

    def _work(self, conn: sqlite3.Connection) -> None:
        try:
            while time.monotonic() - self._last_write() >= self._idle and not self._halt.is_set():
                if not _index_batch(conn, self._batch):
                    break
        except sqlite3.Error as exc:  # busy, disk full: tried again next time
            self.error = str(exc)

    def stop(self) -> None:
        self._halt.set()
        self.join()
