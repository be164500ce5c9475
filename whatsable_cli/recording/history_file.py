"""What the history database file is like, read without changing it: for `doctor`."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from whatsable_cli.recording.schema import SCHEMA_VERSION, database_errors, unusable_error


@dataclass(frozen=True)
class HistoryFile:
    """An existing history: its size on disk (with its write-ahead log), what it holds and who may read it."""

    path: Path
    size_bytes: int
    schema_version: int
    events: int
    runs: int
    mode: int
    writable: bool

    @property
    def too_new(self) -> bool:
        return self.schema_version > SCHEMA_VERSION

    @property
    def private(self) -> bool:
        return self.mode & 0o077 == 0


def read_history_file(path: Path) -> HistoryFile | None:
    """The history at `path`, or None when there is none yet; a file SQLite cannot read raises the same
    one-line bad-input error a command would (damaged, locked, unusable)."""
    try:
        stat = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise unusable_error(path, exc.strerror or str(exc)) from None
    # Read-only, through a URI so that nothing (no journal mode, no migration) is written by looking.
    uri = f"{path.resolve().as_uri()}?mode=ro"
    with database_errors(path):
        conn = sqlite3.connect(uri, uri=True, timeout=1.0)
        try:
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            events = runs = 0
            if 0 < version <= SCHEMA_VERSION:
                (events,) = conn.execute("SELECT count(*) FROM requests").fetchone()
                (runs,) = conn.execute("SELECT count(*) FROM runs").fetchone()
            elif version == 0:  # empty (0 bytes) or some other database: SQLite reads it, so check it has ours
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    wal = path.with_name(path.name + "-wal")
    size = stat.st_size + (wal.stat().st_size if wal.exists() else 0)
    return HistoryFile(
        path=path,
        size_bytes=size,
        schema_version=int(version),
        events=int(events),
        runs=int(runs),
        mode=stat.st_mode & 0o777,
        writable=os.access(path, os.W_OK) and os.access(path.parent, os.W_OK),
    )
