"""Reading `replay -`: stdin's lines from its file descriptor, a stop that ends a read that waits, and the
reading thread that is joined (never left inside a read) however the run ends."""

from __future__ import annotations

import io
import itertools
import os
import queue
import threading
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whatsable_cli.replay.read_ahead import ReadAhead
from whatsable_cli.replay.stdin_lines import ReadingStopped, StdinLines

DEADLINE = 10.0


def pipe_with(data: bytes) -> tuple[io.BufferedReader, int]:
    """A pipe's read end as a binary stream, `data` already written; the write end is returned open."""
    read_fd, write_fd = os.pipe()
    os.write(write_fd, data)
    return os.fdopen(read_fd, "rb"), write_fd


def reader_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "whatsable-read-ahead"]


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=2000), chunk=st.integers(min_value=1, max_value=9))
def test_the_lines_are_the_lines_a_binary_stream_gives_whatever_the_chunks(data: bytes, chunk: int) -> None:
    data = data.replace(b"\r", b"\n\r")  # plenty of line ends, and CRs that must not end a line
    stream, write_fd = pipe_with(data)
    os.close(write_fd)  # the end of stdin
    with stream, StdinLines(stream, chunk_bytes=chunk) as lines:
        assert list(lines) == list(io.BytesIO(data))


def test_an_in_memory_stream_is_read_as_it_is_and_no_stream_has_no_lines() -> None:
    with StdinLines(io.BytesIO(b"a\nb")) as lines:
        assert list(lines) == [b"a\n", b"b"]
    with StdinLines(None) as lines:
        assert list(lines) == []


def test_stop_ends_a_read_that_waits_and_drops_the_unfinished_line() -> None:
    stream, write_fd = pipe_with(b"first\npart of the next")
    got: queue.Queue[bytes | BaseException] = queue.Queue()

    def read_all(lines: StdinLines) -> None:
        try:
            for line in lines:
                got.put(line)
        except ReadingStopped as stopped:
            got.put(stopped)

    with stream, StdinLines(stream) as lines:
        thread = threading.Thread(target=read_all, args=(lines,))
        thread.start()
        assert got.get(timeout=DEADLINE) == b"first\n"  # then it waits for the rest of the line
        lines.stop()
        thread.join(DEADLINE)
        assert not thread.is_alive()
    os.close(write_fd)
    assert isinstance(got.get_nowait(), ReadingStopped)
    assert got.empty()  # "part of the next" was never given as a line


async def test_closing_the_read_ahead_joins_a_thread_that_waits_on_stdin() -> None:
    stream, write_fd = pipe_with(b"one\n")
    with stream, StdinLines(stream) as lines:
        ahead = ReadAhead(iter(lines), ahead=4, stop_reading=lines.stop)
        assert await ahead.next() == b"one\n"
        assert reader_threads()  # waiting for a line that never comes
        ahead.close()
        assert reader_threads() == []
    os.close(write_fd)


async def test_closing_the_read_ahead_joins_a_thread_that_waits_for_room() -> None:
    pulled = 0

    def endless() -> Iterator[int]:
        nonlocal pulled
        for number in itertools.count():
            pulled += 1
            yield number

    ahead = ReadAhead(endless(), ahead=1, stop_reading=lambda: None)
    assert await ahead.next() == 0
    ahead.close()
    assert reader_threads() == []
    assert pulled <= 3  # it read no further than its room allowed


async def test_a_reading_error_reaches_the_reader_and_every_other_reader_sees_the_end() -> None:
    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("corrupt line")

    ahead = ReadAhead(failing(), ahead=2, stop_reading=lambda: None)
    assert await ahead.next() == 1
    with pytest.raises(ValueError, match="corrupt line"):
        await ahead.next()
    assert await ahead.next() is None
    ahead.close()
    assert reader_threads() == []
