"""A render thread: the event loop hands items over and never waits on the terminal; bursts are coalesced."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console, RenderableType
from rich.text import Text


class Line:
    """A styled line that becomes rich Text only on its way to a terminal; a pipe gets its plain text.

    Building rich Text costs time per styled piece; at thousands of events per second to a pipe,
    where every style is dropped anyway, that is render-thread time (and GIL) spent for nothing.
    """

    __slots__ = ("_parts",)

    def __init__(self, text: str = "", style: str = "") -> None:
        self._parts: list[tuple[str, str]] = [(text, style)] if text else []

    def append(self, text: str, style: str = "") -> Line:
        self._parts.append((text, style))
        return self

    @property
    def plain(self) -> str:
        return "".join(text for text, _ in self._parts)

    def to_text(self) -> Text:
        return Text.assemble(*self._parts)


# One thing to show: raw text (written as is, e.g. an NDJSON line), a Line, or a rich renderable.
Output = tuple[Console, str | Line | RenderableType]
Draw = Callable[[Any], Sequence[Output]]
Coalesced = Callable[[int], Sequence[Output]]

_STOP = object()
BATCH = 2000  # items drawn per write at most
BATCH_INTERVAL = 0.02  # seconds a burst may gather before it is drawn (too short for a person to notice)


class RenderPump:
    """Renders items on its own thread, in order, writing each batch at once.

    `submit` is called on the event loop and only puts the item in a queue. When more than `max_pending`
    droppable items wait (the terminal or pipe cannot keep up), further ones are counted instead of
    queued, and `coalesced(n)` says how many were skipped ("… 850 more events, see the recording").
    """

    def __init__(
        self,
        draw: Draw,
        coalesced: Coalesced,
        *,
        max_pending: int = 1000,
        interval: float = BATCH_INTERVAL,
        start: bool = True,
    ) -> None:
        self._draw = draw
        self._interval = interval
        self._coalesced = coalesced
        self._max_pending = max_pending
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._skipped_total = 0  # written on the event loop thread only
        self._skipped_shown = 0  # written on the render thread only
        self._broken = False
        self._thread = threading.Thread(target=self._run, name="whatsable-render", daemon=True)
        self._started = False
        if start:
            self.start()

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def submit(self, item: Any, *, droppable: bool = True) -> None:
        if droppable and self._queue.qsize() >= self._max_pending:
            self._skipped_total += 1
            return
        self._queue.put(item)

    def close(self, timeout: float = 10.0) -> None:
        """Render what is queued, then stop the thread."""
        self.start()
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _next_batch(self) -> list[Any]:
        """Block while idle; once something arrives, let the burst gather, then take it all.

        While this thread sleeps nobody waits on the queue, so `put` on the event loop costs no thread
        wake-up (and no GIL hand-over) per event: one wake-up per batch instead.
        """
        batch = [self._queue.get()]
        if batch[0] is not _STOP:
            time.sleep(self._interval)
        with contextlib.suppress(queue.Empty):
            while len(batch) < BATCH and batch[-1] is not _STOP:
                batch.append(self._queue.get_nowait())
        return batch

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            outputs: list[Output] = []
            for item in batch:
                if item is not _STOP:
                    outputs.extend(self._safe_draw(item))
            skipped = self._skipped_total - self._skipped_shown
            if skipped > 0:
                self._skipped_shown += skipped
                outputs.extend(self._coalesced(skipped))
            self._write(outputs)
            if batch[-1] is _STOP:
                return

    def _safe_draw(self, item: Any) -> Sequence[Output]:
        try:
            return self._draw(item)
        except Exception as exc:  # a display bug must never stop the display of later events
            return [(Console(stderr=True), Text(f"(could not display an item: {type(exc).__name__}: {exc})"))]

    def _write(self, outputs: list[Output]) -> None:
        if self._broken or not outputs:
            return
        try:
            for console, group in _by_console(outputs):
                _write_group(console, group)
        except (BrokenPipeError, ValueError):  # the reader went away (`| head`), or the stream was closed
            self._broken = True


def _by_console(outputs: list[Output]) -> list[tuple[Console, list[str | Line | RenderableType]]]:
    groups: list[tuple[Console, list[str | Line | RenderableType]]] = []
    for console, renderable in outputs:
        if groups and groups[-1][0] is console:
            groups[-1][1].append(renderable)
        else:
            groups.append((console, [renderable]))
    return groups


def _write_group(console: Console, group: list[str | Line | RenderableType]) -> None:
    """Plain text goes straight to the file in one write; styled output through rich."""
    plain = console.color_system is None and not console.is_terminal
    pending: list[str] = []
    for renderable in group:
        if isinstance(renderable, str):
            pending.append(renderable)
        elif plain and isinstance(renderable, Line | Text):
            pending.append(renderable.plain)
        else:
            if pending:
                console.file.write("\n".join(pending) + "\n")
                pending = []
            console.print(renderable.to_text() if isinstance(renderable, Line) else renderable)
    if pending:
        console.file.write("\n".join(pending) + "\n")
    console.file.flush()
