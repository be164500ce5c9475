"""A listen run's place in the history: the database opened (and held under its size cap) for the run's writes."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from whatsable_cli.listen.model import ListenInfo, ListenSettings
from whatsable_cli.listen.stats import RunSummary
from whatsable_cli.recording.history import History, HistoryWriteError, RunCounts, RunInfo, RunRecorder
from whatsable_cli.recording.history_index import Indexer
from whatsable_cli.recording.history_retention import enforce_cap

Warn = Callable[[str], None]


@contextmanager
def run_history(settings: ListenSettings, warn: Warn) -> Iterator[RunRecorder | None]:
    """The run's recorder into the history (None with --no-history), the database closed afterwards.

    Opening raises BadInputError (exit 7) before anything listens when the history is damaged or its
    folder is not writable.
    """
    if settings.history_path is None:
        yield None
        return
    history = History.open(settings.history_path, fsync=settings.fsync)
    indexer: Indexer | None = None
    try:
        _apply_cap(history, settings.history_max_size, warn)
        recorder = RunRecorder(history)
        indexer = Indexer(history.path, lambda: recorder.last_write)
        indexer.start()
        yield recorder
    finally:
        if indexer is not None:
            indexer.stop()
        history.close()


def _apply_cap(history: History, max_size: int | None, warn: Warn) -> None:
    try:
        pruned = enforce_cap(history, max_size)
    except sqlite3.Error as exc:
        warn(f"could not prune the history to its size cap: {exc}")
        return
    if pruned is not None:
        warn(
            f"the history was over its size cap ({_mib(max_size or 0)}): pruned the {pruned.requests} oldest events "
            f"({_mib(pruned.size_before)} -> {_mib(pruned.size_after)}; history_max_size in the config, "
            "or --history-max-size)"
        )


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB"


def run_ready(recorder: RunRecorder | None, info: ListenInfo) -> str | None:
    """The listener is ready: its run is in the history from now on. A warning when that failed."""
    if recorder is None:
        return None
    try:
        recorder.ready(RunInfo(info.host, info.port, info.path, info.public_url))
    except HistoryWriteError as exc:
        return f"could not add this run to the history: {exc} (it is added with its first event)"
    return None


def run_finished(recorder: RunRecorder | None, summary: RunSummary) -> str | None:
    """The run's end and its failed writes noted in its row. A warning when that failed."""
    if recorder is None:
        return None
    try:
        recorder.finish(
            RunCounts(
                summary.total,
                summary.forwards_ok,
                summary.forwards_failed,
                summary.signatures["failed"],
                summary.record_failures,
            )
        )
    except HistoryWriteError as exc:
        return f"could not note the end of this run in the history: {exc}"
    return None
