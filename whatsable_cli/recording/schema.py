"""The history database's file: opened 0600 in WAL mode, its schema versioned (PRAGMA user_version) and migrated."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from whatsable_cli.errors import BadInputError
from whatsable_cli.recording.search_text import SQL_FUNCTION, search_text

HISTORY_MODE = 0o600
# How long a statement waits for another process's write lock (another listener, an import, a prune)
# before failing with "database is locked". A listener waits this long at most before answering 503.
BUSY_TIMEOUT_S = 5.0

# Each entry takes the schema from the version before it to its own number (its index + 1). Append only:
# a database records the version it is at, and a newer tool runs the steps it has not seen yet.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL DEFAULT 'listen',  -- listen, or import (then origin names the file)
        origin TEXT,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        host TEXT,
        port INTEGER,
        path TEXT,
        public_url TEXT,
        events INTEGER NOT NULL DEFAULT 0,  -- the counts are the run's own, noted when it ends
        forwards_ok INTEGER NOT NULL DEFAULT 0,
        forwards_failed INTEGER NOT NULL DEFAULT 0,
        signatures_failed INTEGER NOT NULL DEFAULT 0,
        record_errors INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE requests (
        seq INTEGER PRIMARY KEY,       -- the order requests were recorded in (what --follow tails)
        id TEXT NOT NULL,              -- looked up through request_ids (no index here: see there)
        run_id INTEGER,
        received_at TEXT NOT NULL,     -- as recorded
        received_ms INTEGER,           -- the same as Unix milliseconds, for --since/--until and prune
        method TEXT NOT NULL,
        path,                          -- text, or the bytes (a BLOB) when they are not UTF-8
        query,
        headers TEXT NOT NULL,         -- [[name, value], ...] as JSON, ASCII-escaped (lossless)
        body BLOB NOT NULL,            -- the exact bytes
        body_encoding TEXT,            -- NULL: the one encode_body picks; else the line's own
        body_size INTEGER NOT NULL,
        body_omitted INTEGER NOT NULL,
        event_type TEXT,               -- as recorded
        kind TEXT,                     -- the parsed kind, kept only when event_type is NULL
        status TEXT,                   -- data.status
        sig_result TEXT,
        sig_scheme TEXT,
        sig_reason TEXT,
        sig_detail TEXT,
        response_status INTEGER,
        flags TEXT                     -- a JSON list, NULL when there is none
    );
    CREATE INDEX requests_run ON requests(run_id);
    -- The ids' index, filled behind the writes (history_index): ids are random, so indexing them as they
    -- are written would touch a random page of the index per request, each commit writing it out again.
    CREATE TABLE request_ids (id TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE forwards (
        request_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        at TEXT NOT NULL,
        ok INTEGER NOT NULL,
        result TEXT NOT NULL           -- the delivery result as JSON (the forward line's own fields)
    );
    CREATE INDEX forwards_request ON forwards(request_id);
    CREATE TABLE replays (             -- a request re-sent from the inspector, and the answer it got
        request_id TEXT NOT NULL,
        at TEXT NOT NULL,
        resigned INTEGER NOT NULL,
        edited INTEGER NOT NULL,
        result TEXT NOT NULL           -- the delivery result as JSON
    );
    CREATE INDEX replays_request ON replays(request_id);
    -- Contentless: the text is the body (see search_text), kept once, in requests.
    CREATE VIRTUAL TABLE requests_fts USING fts5(text, content='', tokenize='unicode61 remove_diacritics 2');
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def corrupt_error(path: Path, exc: BaseException) -> BadInputError:
    """A database file SQLite cannot read (truncated, overwritten, not a database): exit 7 with a way out."""
    return BadInputError(
        f"the history {path} is damaged: {exc}",
        hint=f"move it aside (mv '{path}' '{path}.broken') and run again; "
        "JSON Lines recordings load back with `whatsable events import FILE`",
        code="history_corrupt",
    )


def locked_error(path: Path) -> BadInputError:
    return BadInputError(
        f"the history {path} is locked by another process",
        hint="wait for the other `whatsable` command (an import, a prune) to finish, then try again",
        code="history_locked",
    )


def unusable_error(path: Path, why: str) -> BadInputError:
    return BadInputError(
        f"cannot use the history {path}: {why}",
        hint="free some disk space or fix the data dir's permissions (or set WHATSABLE_DATA_DIR); "
        "`listen --no-history` records without it",
        code="history_unwritable",
    )


@contextmanager
def database_errors(path: Path) -> Iterator[None]:
    """SQLite's errors as one-line bad-input errors naming the file (a command's edge uses this)."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        text = str(exc)
        if "locked" in text or "busy" in text:
            raise locked_error(path) from None
        if any(word in text for word in ("unable to open", "readonly", "full", "disk I/O")):
            raise unusable_error(path, text) from None
        raise corrupt_error(path, exc) from None
    except sqlite3.DatabaseError as exc:  # "file is not a database", "database disk image is malformed"
        raise corrupt_error(path, exc) from None


def _create_private(path: Path) -> None:
    """The file exists and only its owner may read it, before SQLite writes a byte (its -wal and -shm
    files take the database file's permissions)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, HISTORY_MODE)
    try:
        if os.fstat(fd).st_mode & 0o777 != HISTORY_MODE:
            os.fchmod(fd, HISTORY_MODE)
    finally:
        os.close(fd)


def _private_sidecars(path: Path) -> None:
    for suffix in ("-wal", "-shm"):
        sidecar = path.with_name(path.name + suffix)
        try:
            if sidecar.stat().st_mode & 0o777 != HISTORY_MODE:
                os.chmod(sidecar, HISTORY_MODE)
        except OSError:
            pass  # not there (yet), or not ours to change: SQLite created it from the database's mode


def connect(path: Path, *, fsync: bool = False, busy_timeout: float | None = None) -> sqlite3.Connection:
    """The history, created 0600 if missing, in WAL mode and migrated to SCHEMA_VERSION.

    Autocommit mode (isolation_level=None): transactions are explicit, `BEGIN IMMEDIATE` for writes, so
    two writers queue on the lock instead of failing when one upgrades a read. `fsync` means
    synchronous=FULL (survives power loss); NORMAL survives a killed process in WAL mode.
    """
    try:
        _create_private(path)
    except OSError as exc:
        raise unusable_error(path, exc.strerror or str(exc)) from None
    timeout = BUSY_TIMEOUT_S if busy_timeout is None else busy_timeout
    with database_errors(path):
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        try:
            conn.create_function(SQL_FUNCTION, 1, search_text, deterministic=True)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
            _private_sidecars(path)
            migrate(conn)
        except BaseException:
            conn.close()
            raise
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Run the migrations this database has not had, each in one transaction; returns the version before."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise BadInputError(
            f"the history was written by a newer whatsable (schema {version}, this one knows {SCHEMA_VERSION})",
            hint="upgrade whatsable (pip install -U whatsable)",
            code="history_too_new",
        )
    if version == SCHEMA_VERSION:
        return int(version)
    conn.execute("BEGIN IMMEDIATE")
    try:
        (current,) = conn.execute("PRAGMA user_version").fetchone()  # another process may have just done it
        for number in range(current, SCHEMA_VERSION):
            for statement in _statements(MIGRATIONS[number]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={number + 1}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # after some failures (disk full) SQLite has rolled back already
            conn.execute("ROLLBACK")
        raise
    return int(version)


def _statements(script: str) -> Iterator[str]:
    """A script's statements one by one (executescript would commit the open transaction first)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line.split("--", 1)[0] + "\n" if "--" in line else line
        if sqlite3.complete_statement(pending):
            if pending.strip():
                yield pending.strip()
            pending = ""
    if pending.strip():
        yield pending.strip()
