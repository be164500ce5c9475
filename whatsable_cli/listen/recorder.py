"""Recording a listen run: what the handlers stage is written in batches, and answered once committed.

Handlers stage their requests (and forward results) and await the outcome of the batch they joined. A
batch starts at the end of the loop pass that staged it: on the event loop, its rows go into a history
transaction and its lines to the `--record` file; its COMMIT (one call into SQLite, made without the
GIL: the WAL write, a checkpoint now and then, the fsync with --fsync) runs in a worker thread while the
loop goes on reading requests, which join the next batch. (The rows are written on the loop, not in the
thread: a thread that keeps taking the GIL back makes every system call of the loop wait for it.)
Write-before-acknowledge holds: an answer waits for its batch's commit, and a failed batch answers each
of its requests 503. Under load a batch grows, so a burst costs one commit instead of one each; batches
are written one at a time, in the order their entries were staged (a request before its forward result,
requests in the order they came).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from whatsable_cli.listen.stats import RunSummary
from whatsable_cli.recording.history import HistoryBusy, HistoryWriteError, RunRecorder
from whatsable_cli.recording.history_rows import Staged
from whatsable_cli.recording.jsonl import RecordingWriter
from whatsable_cli.recording.lines import ForwardRecord, RecordedRequest


class Recorder:
    """Staged entries, the batch being committed, and the run's counts; a failing write is warned about once."""

    def __init__(
        self,
        writer: RecordingWriter | None,
        history: RunRecorder | None,
        summary: RunSummary,
        warn: Callable[[str], None],
    ) -> None:
        self._writer = writer
        self._history = history
        self._summary = summary
        self._warn = warn
        self._requests: list[Staged] = []
        self._forwards: list[ForwardRecord] = []
        self._next: asyncio.Future[bool] | None = None  # the outcome of the batch being staged
        self._busy = False  # a batch's COMMIT is in the worker thread
        self._not_busy = asyncio.Event()
        self._not_busy.set()
        self._held = False  # paused(): no batch starts
        self._quiet = asyncio.Event()  # set while nothing is staged or committing
        self._quiet.set()
        self._broken = False
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="whatsable-commit") if history else None

    def stage(self, entry: RecordedRequest | ForwardRecord, status: str | None = None) -> asyncio.Future[bool]:
        """Queue a request (with its data.status) or a forward result; the future says whether its batch was
        written. The batch starts at the end of this loop pass, or once the one being committed is done."""
        if self._next is None:
            loop = asyncio.get_running_loop()
            self._next = loop.create_future()
            self._quiet.clear()
            if not self._busy:
                loop.call_soon(self._start)
        if isinstance(entry, ForwardRecord):
            self._forwards.append(entry)
        else:
            self._requests.append((entry, status))
        return self._next

    def _start(self) -> None:
        if self._busy or self._held or self._next is None:
            return
        outcome, self._next = self._next, None
        requests, forwards = self._requests, self._forwards
        self._requests, self._forwards = [], []
        count = len(requests) + len(forwards)
        writer, history = self._writer, self._history
        lines = b""
        if writer is not None:
            lines = b"".join([request.to_json_line() for request, _ in requests] + [f.to_json_line() for f in forwards])
        if history is None or self._thread is None:  # the file alone: one write, here
            failure = None
            if writer is not None:
                try:
                    writer.append(lines)
                except OSError as exc:
                    failure = _failure(exc)
            self._settle(outcome, count, failure)
            return
        batch = history.prepare(requests, forwards)
        loop = asyncio.get_running_loop()
        try:
            history.begin(batch)
            if writer is not None:
                writer.append(lines)
            committed = loop.run_in_executor(self._thread, history.end)
        except HistoryBusy:  # another process holds the write lock: the thread waits for it, not the loop
            append = None if writer is None else functools.partial(writer.append, lines)
            committed = loop.run_in_executor(self._thread, history.write, batch, append)
        except (OSError, HistoryWriteError) as exc:
            history.rollback()
            self._settle(outcome, count, _failure(exc))
            return
        self._busy = True
        self._not_busy.clear()
        committed.add_done_callback(lambda done: self._committed(done, outcome, count))

    def _committed(self, done: asyncio.Future[None], outcome: asyncio.Future[bool], count: int) -> None:
        self._busy = False
        self._not_busy.set()
        exc = done.exception()
        self._settle(outcome, count, None if exc is None else _failure(exc))
        if self._next is not None:  # staged while this batch was committed: the next batch
            self._start()

    def _settle(self, outcome: asyncio.Future[bool], count: int, failure: str | None) -> None:
        if failure is None:
            if self._broken:
                self._broken = False
                self._warn("the recording works again")
            self._summary.lines_recorded += count
        else:
            self._summary.record_failures += count
            if not self._broken:
                self._broken = True
                self._warn(f"{failure}; answering 503 until it works")
        if not outcome.done():
            outcome.set_result(failure is None)  # the answers of the batch: 503 each when it failed
        if self._next is None and not self._busy:
            self._quiet.set()

    @asynccontextmanager
    async def paused(self) -> AsyncIterator[None]:
        """No batch is being written inside this block: the history's connection is free for something else."""
        self._held = True
        try:
            while self._busy:
                await self._not_busy.wait()
            yield
        finally:
            self._held = False
            self._start()

    async def drain(self) -> None:
        """Wait until everything staged so far is written (or has failed)."""
        while not self._quiet.is_set():
            await self._quiet.wait()

    def close(self) -> None:
        if self._thread is not None:
            self._thread.shutdown(wait=True)


def _failure(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return f"cannot write the recording: {exc.strerror or exc}"
    if isinstance(exc, HistoryWriteError):
        return f"cannot write the recording to the history: {exc}"
    return f"cannot write the recording: {type(exc).__name__}: {exc}"  # a bug: answered 503, not lost silently
