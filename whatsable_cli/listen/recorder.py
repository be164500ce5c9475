"""Writing a listen run's recording: the lines staged in one loop pass go out in one write.

The requests handled in one pass of the event loop stage their lines; a callback at the end of the pass
writes them together and only then are they answered (write-before-acknowledge), so a burst of requests
costs one write (one fsync with --fsync) instead of one each. A line that must be on disk before something
else happens (a forward starts) is written at once, behind the staged ones, which keeps the file in the
order the requests came.
"""

from __future__ import annotations

from collections.abc import Callable

from whatsable_cli.listen.stats import RunSummary
from whatsable_cli.recording.jsonl import RecordingWriter


class Recorder:
    """Staged lines and written ones, with the run's counts; a failing write is warned about once."""

    def __init__(self, writer: RecordingWriter | None, summary: RunSummary, warn: Callable[[str], None]) -> None:
        self._writer = writer
        self._summary = summary
        self._warn = warn
        self._staged: list[bytes] = []
        self._broken = False

    def stage(self, line: bytes) -> None:
        self._staged.append(line)

    def write(self, line: bytes = b"") -> bool:
        """Write the staged lines, then `line`, in one write; False (and counted) when it failed."""
        staged = self._staged
        count = len(staged) + (1 if line else 0)
        if not count:
            return True
        if staged:
            self._staged = []
            line = b"".join(staged) + line
        if self._writer is None:
            return True
        try:
            self._writer.append(line)
        except OSError as exc:
            self._summary.record_failures += count
            if not self._broken:
                self._broken = True
                self._warn(f"cannot write the recording: {exc.strerror}; answering 503 until it works")
            return False
        if self._broken:
            self._broken = False
            self._warn("the recording works again")
        self._summary.lines_recorded += count
        return True
