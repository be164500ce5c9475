"""The event history: every recorded request of every run in one SQLite database, and how a run writes to it.

A request is one row of `requests` (history_rows), its forward results rows of `forwards`, its run a row
of `runs`, and its body's text an entry of the full-text index (history_index).
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from whatsable_cli.paths import history_path
from whatsable_cli.recording import schema
from whatsable_cli.recording.history_rows import (
    INSERT_FORWARD,
    ROWS_PER_INSERT,
    Batch,
    Row,
    Staged,
    forward_row,
    insert_rows_sql,
    now_iso,
    request_row,
)
from whatsable_cli.recording.history_rows import REQUEST_COLUMNS as REQUEST_COLUMNS  # readers take these from here
from whatsable_cli.recording.history_rows import request_from_row as request_from_row
from whatsable_cli.recording.lines import ForwardRecord
from whatsable_cli.recording.schema import connect, database_errors

if TYPE_CHECKING:
    from whatsable_cli.recording.history_import import ImportResult


class HistoryWriteError(Exception):
    """A write to the history failed (disk full, locked, read-only); nothing of it was kept."""


class HistoryBusy(HistoryWriteError):
    """Another connection holds the write lock right now (nothing was written: try again, or wait for it)."""


class History:
    """An open history database: its path, its connection, and transactions on it."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn = conn
        self.imported: list[ImportResult] = []  # the earlier versions' recordings its first use imported

    @classmethod
    def open(cls, path: Path | None = None, *, fsync: bool = False, busy_timeout: float | None = None) -> History:
        """The history (the user data dir's by default), created and migrated as needed; on its first use,
        the JSON Lines recordings earlier versions left in the data dir are imported into it once."""
        path = path or history_path()
        history = cls(path, connect(path, fsync=fsync, busy_timeout=busy_timeout))
        try:
            from whatsable_cli.recording.history_import import import_legacy_once

            with database_errors(path):
                history.imported = import_legacy_once(history)
        except BaseException:
            history.close()
            raise
        return history

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE (the write lock, waited for up to the busy timeout) ... COMMIT, or ROLLBACK."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    def insert_requests(self, rows: Sequence[Row]) -> None:
        """Rows (in a transaction; their seq is assigned); the full-text index follows (history_index).

        Many rows per statement: one call into SQLite (without the GIL) instead of one per row.
        """
        for start in range(0, len(rows), ROWS_PER_INSERT):
            chunk = rows[start : start + ROWS_PER_INSERT]
            self.conn.execute(insert_rows_sql(len(chunk)), list(itertools.chain.from_iterable(chunk)))

    def meta(self, key: str) -> str | None:
        found = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if found is None else str(found[0])

    def set_meta(self, conn: sqlite3.Connection, key: str, value: str) -> None:
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def is_empty(self) -> bool:
        return self.conn.execute("SELECT 1 FROM requests LIMIT 1").fetchone() is None


@contextmanager
def opened_history(path: Path | None = None) -> Iterator[History]:
    """The history for a command, closed afterwards; SQLite's errors, also while reading it, become one-line
    bad-input errors (exit 7) naming the file."""
    path = path or history_path()
    with database_errors(path):
        history = History.open(path)
        try:
            yield history
        finally:
            history.close()


@dataclass
class RunCounts:
    """A run's totals, noted in its row when it ends (a run killed before that shows what it recorded)."""

    events: int
    forwards_ok: int
    forwards_failed: int
    signatures_failed: int
    record_errors: int


@dataclass
class RunInfo:
    """What a listen run's row says about where it listened."""

    host: str
    port: int
    path: str
    public_url: str | None


class RunRecorder:
    """One `listen` run's writes: each batch of requests (and forward results) in one transaction.

    The run's row is created with the first thing it records or when the listener is ready, whichever
    comes first, so a run that never became ready and received nothing leaves nothing behind.
    """

    def __init__(self, history: History) -> None:
        self.history = history
        # This connection does not wait for the write lock (its caller, the event loop, must not block):
        # `begin` raises HistoryBusy, and the waiting is done in a thread (`write`) or not at all.
        history.conn.execute("PRAGMA busy_timeout = 0")
        self.started_at = now_iso()
        self.run_id: int | None = None
        self._open_run: int | None = None  # the run of the open transaction (maybe created in it)
        self.last_write = 0.0  # when it last committed (monotonic): the indexer waits for a quiet moment
        self._info: RunInfo | None = None

    def prepare(self, requests: Sequence[Staged], forwards: Sequence[ForwardRecord]) -> Batch:
        """The rows to write (plain Python, no database: this part runs on the event loop)."""
        run_id = self.run_id
        return Batch(
            [request_row(None, run_id, request, status, None) for request, status in requests],
            [forward_row(record) for record in forwards],
        )

    def begin(self, batch: Batch) -> None:
        """Open a transaction and write the batch's rows into it; `end` commits it, `rollback` drops it.
        Raises HistoryBusy when another connection holds the write lock, HistoryWriteError (rolled back)."""
        conn = self.history.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise HistoryBusy(str(exc)) from None
            raise HistoryWriteError(str(exc)) from None
        try:
            self._open_run = run_id = self.run_id or self._create_run(conn)
            rows = batch.requests
            if rows and rows[0][2] != run_id:  # prepared before the run existed
                rows = [(row[0], row[1], run_id, *row[3:]) for row in rows]
            self.history.insert_requests(rows)
            if batch.forwards:
                conn.executemany(INSERT_FORWARD, batch.forwards)
        except sqlite3.Error as exc:
            self.rollback()
            raise HistoryWriteError(str(exc)) from None

    def end(self) -> None:
        """COMMIT: one call into SQLite, made without the GIL (the WAL write, a checkpoint now and then, with
        --fsync the disk flush), so a worker thread can wait for it while the event loop goes on."""
        try:
            self.history.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self.rollback()
            raise HistoryWriteError(str(exc)) from None
        self.run_id = self._open_run
        self.last_write = time.monotonic()

    def rollback(self) -> None:
        """Drop the open transaction, if any (SQLite rolls back by itself after some failures)."""
        if self.history.conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.history.conn.execute("ROLLBACK")

    def write(self, batch: Batch, before_commit: Callable[[], None] | None = None) -> None:
        """begin (waiting for the write lock up to the busy timeout), `before_commit` (the JSON Lines append,
        inside the transaction: when it raises, nothing is kept), end."""
        with self._patient():
            self.begin(batch)
        try:
            if before_commit is not None:
                before_commit()
        except BaseException:
            self.rollback()
            raise
        self.end()

    @contextmanager
    def _patient(self) -> Iterator[None]:
        conn = self.history.conn
        conn.execute(f"PRAGMA busy_timeout = {int(schema.BUSY_TIMEOUT_S * 1000)}")
        try:
            yield
        finally:
            conn.execute("PRAGMA busy_timeout = 0")

    def commit(
        self,
        requests: Sequence[Staged],
        forwards: Sequence[ForwardRecord],
        before_commit: Callable[[], None] | None = None,
    ) -> None:
        """prepare and write, in one go."""
        self.write(self.prepare(requests, forwards), before_commit)

    def ready(self, info: RunInfo) -> None:
        """The listener is ready: the run exists from now on, with where it listens."""
        self._info = info
        try:
            with self.history.transaction() as conn:
                run_id = self.run_id or self._create_run(conn)
                conn.execute(
                    "UPDATE runs SET host = ?, port = ?, path = ?, public_url = ? WHERE id = ?",
                    (info.host, info.port, info.path, info.public_url, run_id),
                )
        except sqlite3.Error as exc:
            raise HistoryWriteError(str(exc)) from None
        self.run_id = run_id

    def finish(self, counts: RunCounts) -> None:
        """The run ended: its end time and counts (a run that never existed stays so)."""
        if self.run_id is None:
            return
        try:
            with self._patient(), self.history.transaction() as conn:
                conn.execute(
                    "UPDATE runs SET ended_at = ?, events = ?, forwards_ok = ?, forwards_failed = ?, "
                    "signatures_failed = ?, record_errors = ? WHERE id = ?",
                    (now_iso(), *astuple(counts), self.run_id),
                )
        except sqlite3.Error as exc:
            raise HistoryWriteError(str(exc)) from None

    def _create_run(self, conn: sqlite3.Connection) -> int:
        info = self._info
        cursor = conn.execute(
            "INSERT INTO runs (source, started_at, host, port, path, public_url) VALUES ('listen', ?, ?, ?, ?, ?)",
            (
                self.started_at,
                info and info.host,
                info and info.port,
                info and info.path,
                info and info.public_url,
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid
