"""Helpers for the history tests: runs written with the listener's own RunRecorder, and reading them back."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from whatsable_cli.delivery.results import DeliveryResult
from whatsable_cli.paths import history_path
from whatsable_cli.recording.history import History, RunCounts, RunInfo, RunRecorder
from whatsable_cli.recording.lines import ForwardRecord, RecordedRequest
from whatsable_cli.webhooks.events import parse_body


def record_run(
    requests: Iterable[RecordedRequest],
    *,
    path: Path | None = None,
    port: int = 4242,
    forwards: bool = False,
    finished: bool = True,
) -> int:
    """One listen run in the history (the data dir's by default): each request committed as listen commits it,
    with a forward result when asked; returns the run's id."""
    with History.open(path or history_path()) as history:
        recorder = RunRecorder(history)
        recorder.ready(RunInfo("127.0.0.1", port, "/webhook", None))
        count = 0
        for request in requests:
            done = [ForwardRecord(request.id, DeliveryResult("http://localhost:3000/hook", 200, 4.5, "{}"), 1, "t")]
            recorder.commit([(request, parse_body(request.body_bytes).status)], [])
            if forwards:
                recorder.commit([], done)
            count += 1
        if finished:
            recorder.finish(RunCounts(count, count if forwards else 0, 0, 0, 0))
        assert recorder.run_id is not None
        return recorder.run_id


def stored_ids(path: Path | None = None) -> list[str]:
    """The ids in the history, oldest first (read with plain sqlite3, as any other tool would)."""
    with sqlite3.connect(path or history_path()) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM requests ORDER BY seq")]


def run_ids(path: Path | None = None) -> list[int]:
    target = path or history_path()
    if not target.exists():
        return []
    with sqlite3.connect(target) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM runs ORDER BY id")]
