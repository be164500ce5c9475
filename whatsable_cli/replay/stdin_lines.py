"""stdin's lines for a reader thread: read from its file descriptor, and a stop that ends a read that waits."""

from __future__ import annotations

import contextlib
import os
import select
from collections.abc import Iterator
from types import TracebackType
from typing import BinaryIO

CHUNK_BYTES = 1 << 16


class ReadingStopped(Exception):
    """Raised out of the lines when `stop()` was called: the reader stops where it is, mid-line included."""


class StdinLines:
    """The lines of a stream (each with its b"\\n"; the last may have none), and `stop()` from any thread.

    A thread waiting inside a buffered read (`sys.stdin.buffer.readline`) holds the reader's lock; if it is
    still there when the interpreter shuts down, the shutdown aborts the process ("Fatal Python error:
    _enter_buffered_busy"). So a real file descriptor is read with `os.read`, which holds no lock, after
    `poll` says it is ready; `stop()` wakes that poll through a pipe of its own, so the thread ends and can be
    joined. A stream without a file descriptor (an in-memory one) never waits: it is iterated as it is.
    Reading the descriptor bypasses the stream's buffer: nothing may have read from the stream before.
    """

    def __init__(self, stream: BinaryIO | None, *, chunk_bytes: int = CHUNK_BYTES) -> None:
        self._stream = stream
        self._chunk_bytes = chunk_bytes
        self._fd = _real_fd(stream)
        self._wake: tuple[int, int] | None = None
        self._stopped = False

    def __enter__(self) -> StdinLines:
        if self._fd is not None:
            self._wake = os.pipe()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Closed only here, once the reading thread is done with them (a stop() after this does nothing).
        self._stopped = True
        wake, self._wake = self._wake, None
        if wake is not None:
            os.close(wake[0])
            os.close(wake[1])

    def __iter__(self) -> Iterator[bytes]:
        if self._stream is None:
            return iter(())
        if self._fd is None or self._wake is None:
            return iter(self._stream)
        return self._fd_lines(self._fd, self._wake[0])

    def stop(self) -> None:
        """End the reading: a read that waits returns at once, and the lines raise ReadingStopped."""
        if self._stopped:
            return
        self._stopped = True
        if self._wake is not None:
            with contextlib.suppress(OSError):  # the pipe is full: a wake-up is already waiting
                os.write(self._wake[1], b"x")

    def _fd_lines(self, fd: int, wake: int) -> Iterator[bytes]:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        poller.register(wake, select.POLLIN)
        pending: list[bytes] = []  # the start of a line that has not ended yet (it may span many chunks)
        while chunk := self._read(poller, fd):
            start = 0
            while (end := chunk.find(b"\n", start)) >= 0:
                pending.append(chunk[start : end + 1])
                line = b"".join(pending)
                pending.clear()
                yield line
                start = end + 1
            if start < len(chunk):
                pending.append(chunk[start:])
        if pending:
            yield b"".join(pending)

    def _read(self, poller: select.poll, fd: int) -> bytes:
        while True:
            if self._stopped:
                raise ReadingStopped("stopped")
            ready = poller.poll()
            if self._stopped:
                raise ReadingStopped("stopped")
            if any(ready_fd == fd for ready_fd, _ in ready):
                try:
                    return os.read(fd, self._chunk_bytes)  # b"" at the end (a hang-up included)
                except BlockingIOError:
                    continue  # a non-blocking descriptor that had nothing after all


def _real_fd(stream: BinaryIO | None) -> int | None:
    """The stream's file descriptor, when it has one and poll() exists here; None for an in-memory stream."""
    if stream is None or not hasattr(select, "poll"):
        return None
    try:
        return stream.fileno()
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return None
