"""send-test's progress bar appears on a terminal only, and goes to stderr."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from whatsable_cli.render import send_test as render
from whatsable_cli.send_test.verdicts import Check, Outcome, Verdict

OUTCOME = Outcome(Check("delivery", "deliver", "message_status/delivered"), Verdict.PASS, "ok", "accepted (200)")


@pytest.mark.parametrize(("terminal", "total", "shown"), [(True, 3, True), (True, 1, False), (False, 3, False)])
def test_progress_bar_only_on_a_terminal_for_multi_request_runs(
    monkeypatch: pytest.MonkeyPatch, terminal: bool, total: int, shown: bool
) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=terminal, width=100)
    monkeypatch.setattr(render, "stderr_console", lambda: console)
    with render.ConsoleObserver() as observer:
        observer.started(total, ["security checks skipped: --no-security-checks"])
        for _ in range(total):
            observer.checked(OUTCOME)
    output = buffer.getvalue()
    assert "security checks skipped" in output
    assert ("sending" in output) is shown
