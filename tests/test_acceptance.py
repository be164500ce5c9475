"""Found by using the tool as a user would: each test pins one bug fixed after an acceptance run."""

from __future__ import annotations

import io
import subprocess
import sys
from typing import Any

import pytest
from rich.console import Console


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


def _replay_outcome(index: int) -> Any:
    from whatsable_cli.events import DeliveryResult
    from whatsable_cli.replay import ReplayOutcome
    from whatsable_cli.replay_request import PreparedRequest
    from whatsable_cli.sources import ReplayItem

    item = ReplayItem("rec.jsonl", b"{}", request_id=f"{index:04d}abcdef", event_type="message_status")
    result = DeliveryResult("http://127.0.0.1:3000/hook", 200, 3.14, "ok")
    return ReplayOutcome(index, PreparedRequest(item, b"{}", []), result, True, None, 0.0)


def test_replay_to_a_file_from_a_terminal_keeps_its_lines_in_the_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # `whatsable replay rec.jsonl --to URL > out.txt` in a terminal: the bar is on stderr (a terminal), and the
    # delivery lines must still reach stdout (the file), not be diverted into the bar's console.
    from whatsable_cli.render import replay as render

    terminal = io.StringIO()
    monkeypatch.setattr(render, "stderr_console", lambda: Console(file=terminal, force_terminal=True, width=100))
    with render.ReplayPrinter(url="http://127.0.0.1:3000/hook", json_output=False, show_secrets=False) as printer:
        printer.on_outcome(_replay_outcome(0))
        printer.on_outcome(_replay_outcome(1))
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[4] for line in out] == ["0000abcd", "0001abcd"]
    assert "0000abcd" not in terminal.getvalue()


def test_replay_lines_on_a_terminal_go_through_the_live_bar(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # stdout and stderr both the terminal: a line written around rich's live bar would be glued to the bar.
    from whatsable_cli.render import replay as render

    terminal = io.StringIO()
    monkeypatch.setattr(render, "stderr_console", lambda: Console(file=terminal, force_terminal=True, width=100))
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    with render.ReplayPrinter(url="http://127.0.0.1:3000/hook", json_output=False, show_secrets=False) as printer:
        printer.on_outcome(_replay_outcome(0))
    assert "0000abcd" in terminal.getvalue()
    assert "0000abcd" not in capsys.readouterr().out
