"""The renderers at 60 and 80 columns (rich Consoles of that width, or the command run with COLUMNS set): nothing
that matters is cut off."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

from tests.support import endpoints
from tests.support.helpers import run_cli
from tests.support.recordings import incoming_body, recorded, status_body
from whatsable_cli.delivery.results import DeliveryResult
from whatsable_cli.doctor.checks import FAIL, OK, WARN, Check
from whatsable_cli.listen.forwarder import Routing
from whatsable_cli.listen.model import EventReport, ListenInfo
from whatsable_cli.recording.query import EventRow
from whatsable_cli.render import doctor as render_doctor
from whatsable_cli.render import events as render_events
from whatsable_cli.render import listen_format
from whatsable_cli.render import send_test as render_send_test
from whatsable_cli.render.listen import Origin, banner, try_it
from whatsable_cli.send_test.sender import Exchange
from whatsable_cli.send_test.verdicts import Check as SendCheck
from whatsable_cli.send_test.verdicts import Criteria, Expect, Outcome, Report, Verdict
from whatsable_cli.webhooks.events import parse_body

WIDTHS = (60, 80)
URL = "https://staging.example.com/webhooks/whatsable"


def _terminal(width: int) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=width, force_terminal=True, color_system=None, highlight=False), out


def _squeezed(text: str) -> str:
    """The text without any whitespace: what a wrap moved to the next line still counts, a cut does not."""
    return "".join(text.split())


def _report() -> Report:
    def outcome(group: str, name: str, verdict: Verdict, status: int | None, message: str, hint: str | None) -> Outcome:
        exchange = None if verdict is Verdict.SKIPPED else Exchange(status=status, snippet="Internal Server Error")
        check = SendCheck(
            group, name, "message_status/delivered", Expect.REJECT if group == "security" else Expect.ACCEPT
        )
        return Outcome(check, verdict, "x", message, hint, exchange)

    report = Report(URL, "whatsable-hmac", Criteria())
    report.outcomes += [
        outcome("delivery", "deliver", Verdict.FAIL, 500, "answered 500, expected 2xx", "check its logs"),
        outcome("security", "malformed signature", Verdict.PASS, 401, "rejected (401)", None),
        outcome("security", "stale timestamp", Verdict.SKIPPED, None, "not sent: no timestamp", None),
        outcome("idempotency", "duplicate, 2nd delivery", Verdict.UNREACHABLE, None, "timed out", "answer first"),
    ]
    return report


@pytest.mark.parametrize("width", WIDTHS)
def test_send_test_table_keeps_every_check_verdict_and_status(width: int, monkeypatch: pytest.MonkeyPatch) -> None:
    console, out = _terminal(width)
    monkeypatch.setattr(render_send_test, "stdout_console", lambda: console)
    render_send_test.render_report(_report(), json_output=False)
    shown = out.getvalue()
    table = [line for line in shown.splitlines() if line[:1] in "┏┃┡│├└"]
    assert table and all(len(line) <= width for line in table)
    for whole in ("✗ FAIL", "✓ pass", "- skipped", "✗ no answer", "500", "401"):
        assert whole in shown, whole
    for name in ("deliver", "malformed signature", "stale timestamp", "duplicate, 2nd delivery"):
        assert all(word in shown for word in name.split()), name  # a cell may wrap a name, never cut it
    assert not any("…" in line for line in table)
    assert "answered: Internal Server Error" in shown  # the app's answer, under the table at this width
    assert shown.rstrip().splitlines()[-1].startswith("FAIL: 4 checks")


def test_send_test_at_80_columns_keeps_the_table_narrow_and_each_failure_on_one_line() -> None:
    # A CI log is 80 columns: a hint column there wrapped a word per line (80 lines for 10 checks).
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        narrow = run_cli("send-test", endpoint.url, "--secret", "s3cret", env={"COLUMNS": "80"})
        wide = run_cli("send-test", endpoint.url, "--secret", "s3cret", env={"COLUMNS": "160"})
    assert narrow.exit_code == wide.exit_code == 4
    lines = narrow.stdout.splitlines()
    table = [line for line in lines if line[:1] in "┏┃┡│├└"]
    assert len(table) == 19 and all(len(line) <= 80 for line in table)  # 12 checks (2 skipped), + 7 rules
    failure = next(line for line in lines if line.startswith("✗ FAIL tampered body"))
    assert "your endpoint accepted a forged event" in failure
    assert lines[lines.index(failure) + 1].strip().startswith("hint: compute the HMAC")
    assert lines[-1].startswith("FAIL: 12 checks") and lines[-1].endswith("(exit 4)")
    assert "hint" in wide.stdout.splitlines()[2] and not any(
        line.startswith("✗ FAIL") for line in wide.stdout.splitlines()
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_listen_banner_keeps_urls_and_the_try_it_command_whole(width: int) -> None:
    console, out = _terminal(width)
    info = ListenInfo(
        "127.0.0.1",
        4242,
        "/webhook",
        Path("/home/dev/.local/share/whatsable/recordings/rec.jsonl"),
        True,
        "auto",
        False,
        Routing(("http://localhost:3000/webhook",), ()),
        "relay",
        frozenset(),
        "https://abcd-12-34-56-78.ngrok-free.app",
    )
    origin = Origin(Path("/home/dev/project/whatsable.toml"), "WHATSABLE_SECRET")
    for line in banner(info, origin):
        console.print(Text.from_markup(line), soft_wrap=True)  # as the stderr console prints it
    shown = out.getvalue()
    for whole in (info.local_webhook_url, str(info.public_webhook_url), try_it(info, origin), str(info.recording)):
        assert whole in shown, whole
    assert "…" not in shown


@pytest.mark.parametrize("width", WIDTHS)
def test_listen_pretty_lines_wrap_but_keep_the_id_and_the_target(width: int) -> None:
    console, out = _terminal(width)
    request = recorded(7, incoming_body(7, phone="8801734363287"))
    result = DeliveryResult("http://localhost:3000/webhooks/whatsable/incoming", 500, 12.0, "Database is locked")
    report = EventReport(request, parse_body(request.body_bytes), 500, False, [result], [])
    console.print(listen_format.headline(report).to_text())
    console.print(listen_format.forward_line(result).to_text())
    shown = _squeezed(out.getvalue())
    for whole in (request.id[:8], result.url, "→500", "answered:Databaseislocked", "8801734363287"):
        assert _squeezed(whole) in shown, whole


@pytest.mark.parametrize("width", WIDTHS)
def test_events_list_keeps_id_time_signature_and_flags(width: int, monkeypatch: pytest.MonkeyPatch) -> None:
    console, out = _terminal(width)
    monkeypatch.setattr(render_events, "stdout_console", lambda: console)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    duplicate = recorded(2, status_body(2))
    duplicate.flags = ["duplicate"]
    render_events.render_event_rows([EventRow(recorded(1, status_body(1))), EventRow(duplicate)], json_output=False)
    lines = out.getvalue().splitlines()
    assert all(len(line) <= width for line in lines)
    assert lines[1].startswith(recorded(1, b"").id[:8]) and lines[2].startswith(duplicate.id[:8])
    assert "[duplicate]" in lines[2]


def test_events_list_on_an_80_column_terminal_keeps_the_summary_and_flags_visible(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The full layout needs 77 columns before the summary: at 80 the summary was cut to "su…".
    terminal = io.StringIO()
    monkeypatch.setattr(render_events, "stdout_console", lambda: Console(file=terminal, force_terminal=True, width=80))
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    duplicate = recorded(2, incoming_body(2, phone="8801734363287"))
    duplicate.flags = ["duplicate"]
    assert render_events.render_event_rows([EventRow(duplicate)], json_output=False) == 1
    lines = Text.from_ansi(terminal.getvalue()).plain.splitlines()
    assert lines[0].split() == ["id", "received", "signature", "forwards", "summary"]  # local time, as everywhere
    assert "[duplicate] John Doe +88017" in lines[1] and len(lines[1]) <= 80  # the summary: sender, then text


@pytest.mark.parametrize("width", WIDTHS)
def test_doctor_keeps_every_name_and_status(width: int, monkeypatch: pytest.MonkeyPatch) -> None:
    console, out = _terminal(width)
    monkeypatch.setattr(render_doctor, "stdout_console", lambda: console)
    checks = [
        Check("config file", OK, "/home/dev/a/very/long/project/path/whatsable.toml"),
        Check("ngrok agent", FAIL, "ngrok agent not found at /home/dev/.config/ngrok/ngrok", "install ngrok", True),
        Check("clock", WARN, "sync state unknown", "enable time sync"),
    ]
    render_doctor.render_doctor(checks, 6, json_output=False)
    shown = out.getvalue()
    for whole in ("✓ ok", "✗ fail", "! warn", "config file", "ngrok agent", "clock", "1 check failed"):
        assert whole in shown, whole
    assert _squeezed("/home/dev/a/very/long/project/path/whatsable.toml") in _squeezed(shown)


def test_fixtures_list_at_80_columns_shows_every_name_whole() -> None:
    run = run_cli("fixtures", "list", env={"COLUMNS": "80"})
    assert run.exit_code == 0
    assert all(len(line) <= 80 for line in run.stdout.splitlines())
    for name in ("message_status/delivered", "incoming_message/location", "incoming_message/document"):
        assert name in run.stdout
