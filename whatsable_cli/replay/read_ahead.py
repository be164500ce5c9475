"""Pulling from an iterator whose reads may block (a live stdin) on a thread, for the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

# How long close() waits for the thread once its read was stopped: it only has to finish the item in hand.
JOIN_SECONDS = 5.0


@dataclass(frozen=True)
class _Failed:
    error: BaseException


_END = object()


class ReadAhead(Generic[T]):
    """`await next()` gives the iterator's items in order, read at most `ahead` items ahead; None at the end.

    Reading a pipe with `next()` on the event loop stops the loop until a line comes: with `tail -f rec.jsonl |
    whatsable replay - -c 4`, requests already in flight would wait for the next line. `close()` ends the
    thread through `stop_reading` (which must make a read that waits return) and joins it, so no thread is
    left inside a read when the process exits. The thread is a daemon only as a last resort, should a read
    ignore the stop.
    """

    def __init__(self, items: Iterator[T], *, ahead: int, stop_reading: Callable[[], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._ready: asyncio.Queue[object] = asyncio.Queue()
        self._room = threading.Semaphore(ahead)
        self._stop_reading = stop_reading
        self._closed = False
        self._thread = threading.Thread(target=self._read, args=(items,), name="whatsable-read-ahead", daemon=True)
        self._thread.start()

    def _read(self, items: Iterator[T]) -> None:
        try:
            for item in items:
                self._room.acquire()
                if self._closed:
                    return
                self._hand_over(item)
        except BaseException as error:  # raised to the reader that takes it, as a plain next() would
            if not self._closed:  # after close() it is the stop itself: nobody is waiting for it
                self._hand_over(_Failed(error))
        self._hand_over(_END)

    def _hand_over(self, item: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: the run ended without the rest
            self._loop.call_soon_threadsafe(self._ready.put_nowait, item)

    async def next(self) -> T | None:
        item = await self._ready.get()
        if item is _END or isinstance(item, _Failed):
            self._ready.put_nowait(_END)  # every other reader sees the end too
            if isinstance(item, _Failed):
                raise item.error
            return None
        self._room.release()
        return item  # type: ignore[return-value]  # anything else is an item the thread handed over

    def close(self) -> None:
        """Stop reading and wait for the thread to end: after this nothing is read, and nothing more is reported."""
        if self._closed:
            return
        self._closed = True
        self._stop_reading()
        self._room.release()  # a thread waiting for room wakes, sees it is closed, and ends
        self._thread.join(JOIN_SECONDS)
