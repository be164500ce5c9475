"""RecordingWriter: a write that fails part-way never leaves a half line for the next one to run into."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from whatsable_cli.recording import jsonl as store
from whatsable_cli.recording.jsonl import RecordingWriter

LINE = b'{"id":"a","received_at":"t","method":"POST","path":"/","query":"","headers":[],"body":""}\n'


def cut_after(count: int) -> Callable[[int, object], int]:
    """os.write that writes `count` bytes of the first call, then fails as a full disk does."""
    real_write = os.write
    calls = {"n": 0}

    def write(fd: int, data: object) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            return real_write(fd, bytes(data)[:count])  # type: ignore[call-overload]
        raise OSError(errno.ENOSPC, "No space left on device")

    return write


def test_a_write_cut_short_is_taken_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "rec.jsonl"
    with RecordingWriter(path) as writer:
        writer.append(LINE)
        monkeypatch.setattr(store.os, "write", cut_after(10))
        with pytest.raises(OSError, match="No space"):
            writer.append(LINE.replace(b'"a"', b'"b"'))
        assert path.read_bytes() == LINE  # as it was before the failed write
        monkeypatch.undo()
        writer.append(LINE.replace(b'"a"', b'"c"'))
    assert path.read_bytes() == LINE + LINE.replace(b'"a"', b'"c"')


def test_when_taking_back_fails_too_the_next_line_starts_on_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "rec.jsonl"

    def no_truncate(fd: int, length: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    with RecordingWriter(path) as writer:
        monkeypatch.setattr(store.os, "write", cut_after(10))
        monkeypatch.setattr(store.os, "ftruncate", no_truncate)
        with pytest.raises(OSError, match="No space"):
            writer.append(LINE)
        monkeypatch.undo()
        writer.append(LINE)
    assert path.read_bytes() == LINE[:10] + b"\n" + LINE  # the cut line alone is lost (skipped as corrupt)


def test_a_recording_that_ends_mid_line_is_continued_on_a_new_line(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    path.write_bytes(LINE + LINE[:7])  # a run before was killed mid-write
    with RecordingWriter(path) as writer:
        writer.append(LINE)
        writer.append(LINE)
    assert path.read_bytes() == LINE + LINE[:7] + b"\n" + LINE + LINE


def test_a_failed_fsync_takes_the_whole_write_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "rec.jsonl"

    def failing_fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    with RecordingWriter(path, fsync=True) as writer:
        writer.append(LINE)
        monkeypatch.setattr(store.os, "fsync", failing_fsync)
        with pytest.raises(OSError, match="Input/output"):
            writer.append(LINE)  # answered 503: it must not stay in the recording
    assert path.read_bytes() == LINE
