"""replay's renderer: the progress bar on a terminal only (stderr), delivery lines (on stdout, or through the bar
when stdout is that terminal too), NDJSON and the summary."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from rich.console import Console

from tests.support.endpoints import closed_port_url
from whatsable_cli.delivery.results import DeliveryResult
from whatsable_cli.render import replay as render
from whatsable_cli.replay.request import PreparedRequest
from whatsable_cli.replay.service import ReplayOutcome
from whatsable_cli.replay.sources import ReplayItem
from whatsable_cli.replay.stats import ReplaySummary

URL = "http://127.0.0.1:3000/hook"


def outcome(index: int, status: int | None, passed: bool) -> ReplayOutcome:
    item = ReplayItem("rec.jsonl", b"{}", request_id=f"{index:04d}abcdef", event_type="message_status")
    result = DeliveryResult(URL, status, 3.14, "ok")
    if status is None:
        result.error, result.error_code = "connection refused by localhost:3001", "refused"
    return ReplayOutcome(index, PreparedRequest(item, b"{}", []), result, passed, None, 0.0)


@pytest.mark.parametrize(
    ("terminal", "json_output", "shown"), [(True, False, True), (False, False, False), (True, True, False)]
)
def test_progress_bar_only_on_a_terminal_and_not_with_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], terminal: bool, json_output: bool, shown: bool
) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=terminal, width=100)
    monkeypatch.setattr(render, "stderr_console", lambda: console)
    with render.ReplayPrinter(url=URL, json_output=json_output, show_secrets=False) as printer:
        for index in range(3):
            printer.on_outcome(outcome(index, 200, True))
    assert ("replaying" in buffer.getvalue()) is shown
    assert "replaying" not in capsys.readouterr().out  # the bar never touches stdout


def test_replay_to_a_file_from_a_terminal_keeps_its_lines_in_the_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # `whatsable replay rec.jsonl --to URL > out.txt` in a terminal: the bar is on stderr (a terminal), and the
    # delivery lines must still reach stdout (the file), not be diverted into the bar's console.
    terminal = io.StringIO()
    monkeypatch.setattr(render, "stderr_console", lambda: Console(file=terminal, force_terminal=True, width=100))
    with render.ReplayPrinter(url=URL, json_output=False, show_secrets=False) as printer:
        printer.on_outcome(outcome(0, 200, True))
        printer.on_outcome(outcome(1, 200, True))
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[4] for line in out] == ["0000abcd", "0001abcd"]
    assert "0000abcd" not in terminal.getvalue()


def test_replay_lines_on_a_terminal_go_through_the_live_bar(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # stdout and stderr both the terminal: a line written around rich's live bar would be glued to the bar.
    terminal = io.StringIO()
    monkeypatch.setattr(render, "stderr_console", lambda: Console(file=terminal, force_terminal=True, width=100))
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    with render.ReplayPrinter(url=URL, json_output=False, show_secrets=False) as printer:
        printer.on_outcome(outcome(0, 200, True))
    assert "0000abcd" in terminal.getvalue()
    assert "0000abcd" not in capsys.readouterr().out


def test_delivery_lines_and_summary_on_a_pipe(capsys: pytest.CaptureFixture[str]) -> None:
    summary = ReplaySummary(selected=2, sent=2, passed=1, unreachable=1, elapsed_s=0.5)
    summary.by_status.update({"200": 1, "unreachable": 1})
    summary.latency.add(3.14)
    with render.ReplayPrinter(url=URL, json_output=False, show_secrets=False, progress=False) as printer:
        printer.on_outcome(outcome(0, 200, True))
        printer.on_outcome(outcome(1, None, False))
    printer.render_summary(summary)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["✓", "200", "3.1", "ms"] and "0000abcd" in lines[0]
    assert lines[1].startswith("✗ refused") and "connection refused by localhost:3001" in lines[1]
    assert lines[2] == f"replayed 2 of 2 requests to {URL} in 0.50 s, 4.0 req/s"
    assert "unreachable 1" in lines[3]
    assert "200 ×1, unreachable ×1" in lines[4]
    assert lines[5].startswith("  latency: p50 3.14 ms")


def test_ndjson_lines_parse_and_end_with_the_summary(capsys: pytest.CaptureFixture[str]) -> None:
    with render.ReplayPrinter(url=URL, json_output=True, show_secrets=False) as printer:
        printer.on_outcome(outcome(0, 500, False))
    printer.render_summary(ReplaySummary(selected=1, sent=1, failed=1))
    objects = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert objects[0]["type"] == "delivery" and objects[0]["status"] == 500 and objects[0]["passed"] is False
    assert objects[1]["type"] == "summary" and objects[1]["failed"] == 1


def test_the_fast_ndjson_line_equals_the_json_of_the_outcome() -> None:
    tricky = outcome(7, None, False)
    tricky.request.item.origin = 'dir "q"\\caf\u00e9\n.jsonl'
    assert tricky.result is not None
    tricky.result.response_snippet = "</html>\u2028 \x00"
    cases = [outcome(0, 200, True), outcome(1, 503, False), tricky]
    cases[1].request.item.request_id = None
    for case in cases:
        line = render.delivery_line(case)
        assert line.endswith("\n") and line.count("\n") == 1
        assert json.loads(line) == render.outcome_json(case)


class Writes(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


def test_lines_to_a_pipe_go_out_in_batches_and_a_line_after_a_pause_at_once() -> None:
    clock = [100.0]
    stream = Writes()
    batcher = render.LineBatcher(stream, clock=lambda: clock[0])
    batcher.add("a\n")  # the first line: written at once
    for line in ("b\n", "c\n", "d\n"):  # a burst within one batch window: held
        clock[0] += render.BATCH_SECONDS / 10
        batcher.add(line)
    assert stream.writes == ["a\n"]
    clock[0] += render.BATCH_SECONDS  # a pause: the next line goes out with what was held
    batcher.add("e\n")
    assert stream.writes == ["a\n", "b\nc\nd\ne\n"]
    for index in range(render.BATCH_LINES):  # a batch never grows past BATCH_LINES, however fast
        batcher.add(f"{index}\n")
    assert len(stream.writes) == 3
    batcher.add("last\n")
    batcher.flush()
    assert stream.getvalue() == "a\nb\nc\nd\ne\n" + "".join(f"{i}\n" for i in range(render.BATCH_LINES)) + "last\n"


@pytest.mark.parametrize("extra", [[], ["--dry-run"]])
def test_a_json_run_to_a_pipe_does_not_load_rich(extra: list[str]) -> None:
    # start-up is part of a replay's throughput: rich (~20 ms) is loaded only when something is shown
    code = (
        "import atexit, runpy, sys; "
        "atexit.register(lambda: sys.stderr.write(' rich-loaded=%s ' % ('rich' in sys.modules))); "
        "sys.argv = ['whatsable', *sys.argv[1:]]; runpy.run_module('whatsable_cli', run_name='__main__')"
    )
    argv = [sys.executable, "-c", code, "replay", "message_status/delivered", "--to", closed_port_url(), "--json"]
    done = subprocess.run([*argv, *extra], capture_output=True, text=True, timeout=60)
    assert json.loads(done.stdout.splitlines()[-1])["type"] == "summary"
    assert " rich-loaded=False " in done.stderr
