"""Where the tool keeps things: the user config and data dirs, the history database and the recordings folder."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import platformdirs

from whatsable_cli.errors import BadInputError

APP_NAME = "whatsable"
HISTORY_NAME = "history.sqlite3"


def data_dir() -> Path:
    """The user data dir (`WHATSABLE_DATA_DIR` overrides it, which tests and CI use)."""
    override = os.environ.get("WHATSABLE_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME))


def config_dir() -> Path:
    """The user config dir (`WHATSABLE_CONFIG_DIR` overrides it)."""
    override = os.environ.get("WHATSABLE_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir(APP_NAME))


def recordings_dir() -> Path:
    """Where earlier versions kept one JSON Lines recording per run (imported into the history once)."""
    return data_dir() / "recordings"


def history_path() -> Path:
    """The event history of every run: one SQLite database in the data dir."""
    return data_dir() / HISTORY_NAME


def new_recording_path(now: datetime | None = None) -> Path:
    """A fresh recording file name for one `listen` run: recordings/<UTC time>.jsonl."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S_%fZ")
    return recordings_dir() / f"{stamp}.jsonl"


def newest_recording() -> Path | None:
    """The most recent recording, which `events` and `replay` use by default."""
    folder = recordings_dir()
    if not folder.is_dir():
        return None
    files = sorted(folder.glob("*.jsonl"))
    return files[-1] if files else None


def recording_to_read(record: Path | None) -> Path:
    """`--record PATH`, else the newest recording `listen` wrote; none at all is bad input (exit 7)."""
    if record is not None:
        return record
    newest = newest_recording()
    if newest is None:
        raise BadInputError(
            f"no recording found in {recordings_dir()}",
            hint="run `whatsable listen` to record events, or pass --record PATH",
            code="no_recording",
        )
    return newest
