"""The recording: an append-only JSON Lines file, written before acknowledging and read back streaming."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from whatsable_cli.errors import BadInputError
from whatsable_cli.recording.lines import Entry, RecordedRequest, entry_from_dict, the_one_match

RECORDING_MODE = 0o600
T = TypeVar("T")

SkipWarning = Callable[[Path, int, str], None]


class RecordingWriter:
    """Appends lines with one unbuffered write each, so a line is in the OS before we acknowledge.

    A process killed right after `append` returns loses nothing: the bytes are in the kernel's page
    cache. `fsync=True` also survives power loss, at the price of a disk flush per event.
    """

    def __init__(self, path: Path, *, fsync: bool = False) -> None:
        self.path = path
        self.fsync = fsync
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd, readable = _open_for_append(path)
            os.fchmod(self._fd, RECORDING_MODE)
            self._pending_newline = readable and _ends_mid_line(self._fd)
        except OSError as exc:
            raise BadInputError(
                f"cannot write the recording {path}: {exc.strerror}",
                hint="pick a writable file with --record PATH, or --no-record",
                code="recording_unwritable",
            ) from None

    def append(self, line: bytes) -> None:
        """Write complete lines (O_APPEND keeps concurrent writers' lines whole), or raise OSError and leave
        the file as it was: a write cut short (the disk filled mid-line) is taken back, so the file always
        ends on a line boundary and no half line swallows the next one."""
        if self._pending_newline:
            line = b"\n" + line
        view = memoryview(line)
        done = 0
        try:
            while done < len(view):
                done += os.write(self._fd, view[done:])
            if self.fsync:
                os.fsync(self._fd)
        except OSError:
            if done:
                self._take_back(done)
            raise
        self._pending_newline = False

    def _take_back(self, count: int) -> None:
        """Remove the last `count` bytes, which this write appended; when that fails too, the next write
        starts on a new line, so that only the cut line is lost (readers skip it as corrupt)."""
        try:
            os.ftruncate(self._fd, os.fstat(self._fd).st_size - count)
        except OSError:
            self._pending_newline = True

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _open_for_append(path: Path) -> tuple[int, bool]:
    """The file opened for appending, and whether it could be opened for reading too (to look at its end)."""
    try:
        return os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, RECORDING_MODE), True
    except PermissionError:
        return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, RECORDING_MODE), False


def _ends_mid_line(fd: int) -> bool:
    """Whether the file's last byte is not a newline (a run before was cut off mid-line)."""
    try:
        size = os.fstat(fd).st_size
        return size > 0 and os.pread(fd, 1, size - 1) != b"\n"
    except OSError:  # not a regular file (a pipe, a terminal): nothing to look at
        return False


def iter_entries(path: Path, *, strict: bool = False, on_skip: SkipWarning | None = None) -> Iterator[Entry]:
    """Stream a recording line by line; memory does not grow with the file.

    A corrupt or truncated line is skipped and reported through `on_skip(path, line_no, why)`, or
    raises BadInputError when `strict`.
    """
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise BadInputError(
            f"cannot read the recording {path}: {exc.strerror}",
            hint="pass an existing recording with --record PATH (see `whatsable events list`)",
            code="recording_unreadable",
        ) from None
    with handle:
        yield from iter_entry_lines(handle, path, strict=strict, on_skip=on_skip)


def iter_entry_lines(
    lines: Iterable[bytes], path: Path, *, strict: bool = False, on_skip: SkipWarning | None = None, first_line: int = 1
) -> Iterator[Entry]:
    """Parse recording lines from any byte stream (a file, stdin); `path` names it in warnings."""
    return iter_parsed_lines(lines, path, entry_from_dict, strict=strict, on_skip=on_skip, first_line=first_line)


def iter_parsed_lines(
    lines: Iterable[bytes],
    path: Path,
    parse: Callable[[Any], T],
    *,
    strict: bool = False,
    on_skip: SkipWarning | None = None,
    first_line: int = 1,
) -> Iterator[T]:
    """Each line's JSON through `parse` (ValueError/KeyError/TypeError = a corrupt line, skipped or fatal).

    Replay passes a parser that builds its own lightweight item, skipping RecordedRequest per line.
    """
    for line_no, line in enumerate(lines, start=first_line):
        if not line.strip():
            continue
        try:
            yield parse(json.loads(line))
        except (ValueError, KeyError, TypeError) as exc:
            detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)  # a bare KeyError says "'id'"
            why = "truncated line" if not line.endswith(b"\n") else f"corrupt line ({detail})"
            if strict:
                raise BadInputError(
                    f"{path}:{line_no}: {why}",
                    hint="drop --strict to skip bad lines with a warning",
                    code="corrupt_recording",
                ) from None
            if on_skip is not None:
                on_skip(path, line_no, why)


def iter_requests(path: Path, *, strict: bool = False, on_skip: SkipWarning | None = None) -> Iterator[RecordedRequest]:
    """Only the request lines of a recording (what replay sends)."""
    for entry in iter_entries(path, strict=strict, on_skip=on_skip):
        if isinstance(entry, RecordedRequest):
            yield entry


def find_request(path: Path, id_prefix: str, *, on_skip: SkipWarning | None = None) -> RecordedRequest:
    """The one recorded request whose id starts with `id_prefix` (a unique prefix is enough)."""
    matches: list[RecordedRequest] = []
    for request in iter_requests(path, on_skip=on_skip):
        if request.id.startswith(id_prefix):
            matches.append(request)
            if request.id == id_prefix or len(matches) > 1:
                break
    exact = [m for m in matches if m.id == id_prefix]
    hint = "list the ids with `whatsable events list`"
    return the_one_match(exact or matches, id_prefix, str(path), hint, noun="recorded request")
