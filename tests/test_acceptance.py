"""Found by using the tool as a user would: each test pins one bug fixed after an acceptance run."""

from __future__ import annotations

import subprocess
import sys


def test_a_reader_that_stops_early_is_not_an_error() -> None:
    # `whatsable fixtures list --json | head -1`: the pipe closes before whatsable writes; no traceback,
    # no "unexpected error", exit 0.
    child = subprocess.Popen(
        [sys.executable, "-m", "whatsable_cli", "fixtures", "list", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # the reader is gone before the first line is written
    stderr = child.stderr.read().decode()
    assert child.wait(timeout=30) == 0, stderr
    assert stderr == ""
