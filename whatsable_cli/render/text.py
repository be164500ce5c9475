"""Plain-text conventions every renderer shares: id length, times, plurals, the first line of an answer."""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path

# One length for a recorded request's id wherever it is shown: what `events show ID` and `replay --id ID` take.
SHORT_ID = 8
ANSWER_CHARS = 80  # how much of an app's answer a one-line message shows


def short_id(request_id: str | None) -> str:
    return (request_id or "")[:SHORT_ID] or "-"


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`1 request`, `2 requests`, `0 requests` (`nouns` for an irregular plural)."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def first_line(body: bytes | str, limit: int = ANSWER_CHARS) -> str:
    """The first non-blank line of an answer, whitespace collapsed, cut to `limit` characters with '…'."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    line = next((candidate for candidate in text.splitlines() if candidate.strip()), "")
    line = " ".join(line.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


# Times: recordings and JSON carry UTC (ISO 8601, `Z`); a person reads the machine's local time, and a time typed
# without an offset (--since, --until) is local too, so a time copied from the screen selects what it showed.
def local_clock(received_at: str) -> str:
    """HH:MM:SS, local, of an ISO 8601 UTC timestamp."""
    return _local(received_at[:19])[11:]


def local_datetime(received_at: str) -> str:
    """YYYY-MM-DD HH:MM:SS, local, of an ISO 8601 UTC timestamp."""
    return _local(received_at[:19])


@functools.lru_cache(maxsize=64)
def _local(utc_second: str) -> str:
    """A burst shares its second: each second is converted once."""
    try:
        return datetime.fromisoformat(utc_second + "+00:00").astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return utc_second.replace("T", " ")


def display_path(path: Path | str) -> str:
    """A path as a person reads it: under the home folder, `~/...` (a command line keeps the full path)."""
    full = Path(path)
    try:
        return "~/" + full.relative_to(Path.home()).as_posix()
    except (ValueError, RuntimeError):  # outside the home folder, or no home at all
        return str(full)
