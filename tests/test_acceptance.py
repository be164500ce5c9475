"""Found by using the tool as a user would: each test pins one bug fixed after an acceptance run."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text

from tests.support import endpoints
from tests.support.helpers import run_cli
from tests.support.recordings import incoming_body, recorded, status_body, write_recording


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
    from whatsable_cli.delivery.results import DeliveryResult
    from whatsable_cli.replay.request import PreparedRequest
    from whatsable_cli.replay.service import ReplayOutcome
    from whatsable_cli.replay.sources import ReplayItem

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


def _decoded_recording(tmp_path: Path) -> tuple[Path, bytes]:
    """A gzip request as `listen` records it: the decoded body, flagged `decoded`, the original headers."""
    body = status_body(7)
    request = recorded(7, body, [("Content-Encoding", "gzip"), ("X-Webhook-Signature", "sig")])
    request.flags = ["decoded"]
    return write_recording(tmp_path / "rec.jsonl", [request]), body


def test_replay_of_a_decoded_body_drops_its_content_encoding(tmp_path: Path) -> None:
    path, body = _decoded_recording(tmp_path)
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        run = run_cli("replay", str(path), "--to", endpoint.url)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert endpoint.received.bodies == [body]
    headers = {k.lower(): v for k, v in endpoint.received.headers[0].items()}
    assert "content-encoding" not in headers
    assert headers["x-webhook-signature"] == "sig"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_exported_curl_of_a_decoded_body_drops_its_content_encoding(tmp_path: Path) -> None:
    path, body = _decoded_recording(tmp_path)
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        exported = run_cli("events", "export", "0007", "--record", str(path), "--to", endpoint.url)
        assert exported.exit_code == 0, exported.stderr
        assert "Content-Encoding" not in exported.stdout
        done = subprocess.run(["sh", "-c", exported.stdout], capture_output=True, timeout=30, check=False)
        assert done.returncode == 0, done.stderr
    assert endpoint.received.bodies == [body]


@pytest.mark.parametrize("command", ["listen", "doctor"])
@pytest.mark.parametrize("port", ["99999", "-5"])
def test_a_port_out_of_range_is_a_usage_error_not_a_crash(command: str, port: str) -> None:
    run = run_cli(command, "--no-tunnel", "--port", port)
    assert run.exit_code == 2, run.stderr
    assert "Invalid value for '--port'" in run.stderr and "unexpected" not in run.stderr


def test_a_port_in_the_config_file_that_is_not_a_number_is_bad_input(tmp_path: Path) -> None:
    config = tmp_path / "whatsable.toml"
    config.write_text('port = "abc"\n')
    run = run_cli("listen", "--no-tunnel", "--config", str(config))
    assert run.exit_code == 7, run.stderr
    assert "invalid port 'abc'" in run.stderr


def test_replay_with_a_malformed_set_is_bad_input_before_anything_is_sent(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "rec.jsonl", [recorded(1, status_body(1))])
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        run = run_cli("replay", str(path), "--to", endpoint.url, "--set", "nodot")
    assert run.exit_code == 2, run.stdout + run.stderr
    assert "Invalid value for '--set': invalid --set 'nodot'" in " ".join(run.stderr.replace("│", " ").split())
    assert endpoint.received.bodies == []


def test_fixtures_list_at_80_columns_shows_every_name_whole() -> None:
    run = run_cli("fixtures", "list", env={"COLUMNS": "80"})
    assert run.exit_code == 0
    assert all(len(line) <= 80 for line in run.stdout.splitlines())
    for name in ("message_status/delivered", "incoming_message/location", "incoming_message/document"):
        assert name in run.stdout


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


def test_listen_banner_says_how_to_send_a_test_event() -> None:
    from whatsable_cli.listen.model import ListenInfo, Routing
    from whatsable_cli.render.listen import Origin, banner

    info = ListenInfo("127.0.0.1", 4242, "/webhook", None, False, "auto", False, Routing((), ()), "relay", frozenset())
    assert any(
        "Try it       [bold]whatsable send-test http://127.0.0.1:4242/webhook --no-security-checks[/]" in line
        for line in banner(info)
    )
    signed = ListenInfo("0.0.0.0", 5000, "/in", None, True, "standard", True, Routing((), ()), "relay", frozenset())
    expected = 'whatsable send-test http://127.0.0.1:5000/in --secret "$WHATSABLE_SECRET" --scheme standard[/]'
    tunnel = ListenInfo(
        "127.0.0.1", 1, "/in", None, False, "auto", False, Routing((), ()), "relay", frozenset(), "https://x.ngrok.app"
    )
    assert any("whatsable send-test https://x.ngrok.app/in --no-security-checks" in line for line in banner(tunnel))
    assert any(expected in line for line in banner(signed, Origin(None, "WHATSABLE_SECRET")))


def test_events_list_on_an_80_column_terminal_keeps_the_summary_and_flags_visible(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The full layout needs 77 columns before the summary: at 80 the summary was cut to "su…".
    from whatsable_cli.recording.query import EventRow
    from whatsable_cli.render import events as render

    terminal = io.StringIO()
    monkeypatch.setattr(render, "stdout_console", lambda: Console(file=terminal, force_terminal=True, width=80))
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    duplicate = recorded(2, incoming_body(2, phone="8801734363287"))
    duplicate.flags = ["duplicate"]
    assert render.render_event_rows([EventRow(duplicate)], json_output=False) == 1
    lines = Text.from_ansi(terminal.getvalue()).plain.splitlines()
    assert lines[0].split() == ["id", "received", "signature", "forwards", "summary"]  # local time, as everywhere
    assert "[duplicate] John Doe +88017" in lines[1] and len(lines[1]) <= 80  # the summary: sender, then text


@pytest.mark.parametrize(
    ("option", "typo", "valid"),
    [("--status", "deliverd", "sent, delivered, read, failed"), ("--event", "incomming_message", "message_status")],
)
@pytest.mark.parametrize("command", ["events list", "replay"])
def test_a_filter_value_that_can_never_match_is_a_usage_error(
    tmp_path: Path, command: str, option: str, typo: str, valid: str
) -> None:
    # It answered "no recorded requests match" (exit 0): a typo looked like an empty recording.
    path = write_recording(tmp_path / "rec.jsonl", [recorded(1, status_body(1))])
    extra = ["--to", "http://127.0.0.1:9/"] if command == "replay" else ["--record"]
    run = run_cli(*command.split(), *extra, str(path), option, typo)
    assert run.exit_code == 2, run.stdout + run.stderr
    said = " ".join(run.stderr.replace("│", " ").split())
    assert f"Invalid value for '{option}': '{typo}' is not one of" in said and valid in said
    assert "did you mean" in said


def test_a_typo_in_an_event_type_is_an_error_with_a_suggestion(tmp_path: Path) -> None:
    # It was a warning, and every event was then hidden (--event) or misrouted (--route).
    for option in ("--event", "--route"):
        value = "incomming_message" + ("=3000" if option == "--route" else "")
        run = run_cli("listen", "--no-tunnel", option, value)
        said = " ".join(run.stderr.replace("│", " ").split())
        assert run.exit_code == 2, said
        assert "did you mean 'incoming_message'?" in said.lower()
    config = tmp_path / "c.toml"  # the same typo in the config file: bad config, exit 7
    config.write_text('[routes]\nincomming_message = "http://localhost:3000/in"\n')
    run = run_cli("listen", "--no-tunnel", "--config", str(config))
    assert run.exit_code == 7 and "did you mean 'incoming_message'?" in run.stderr


def test_events_list_and_replay_say_what_they_read_by_default() -> None:
    # A recording an earlier version left in the data dir is imported on first use; replay with no source
    # sends the history's latest run and says which one.
    from whatsable_cli.paths import new_recording_path

    write_recording(new_recording_path(), [recorded(1, status_body(1))])
    listed = run_cli("events", "list")
    assert listed.exit_code == 0 and "imported 1 events from 1 earlier recordings" in listed.stderr
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        replayed = run_cli("replay", "--to", endpoint.url)
    assert replayed.exit_code == 0 and "replaying run 1 of the history" in replayed.stderr
    assert len(endpoint.received.bodies) == 1


def test_events_export_to_a_url_that_is_not_http_is_bad_input(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "rec.jsonl", [recorded(1, status_body(1))])
    run = run_cli("events", "export", "0001", "--record", str(path), "--to", "localhost:3000/hook")
    assert run.exit_code == 7 and run.stdout == ""
    assert "error: --to 'localhost:3000/hook' is not an http(s) URL" in run.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["send-test", "http://127.0.0.1:9/", "--max-latency", "-1"],
        ["listen", "--no-tunnel", "--forward-timeout", "-1"],
        ["listen", "--no-tunnel", "--retry-backoff", "0"],
        ["listen", "--no-tunnel", "--tolerance", "-5"],
        ["verify", "-", "--tolerance", "-5"],
    ],
)
def test_a_negative_duration_is_a_usage_error(args: list[str]) -> None:
    # --max-latency -1 failed every answer as too slow; --forward-timeout -1 timed out every forward.
    run = run_cli(*args, input="{}")
    assert run.exit_code == 2, run.stdout + run.stderr
    assert "Invalid value" in run.stderr


def test_help_lists_the_main_jobs_first() -> None:
    run = run_cli("--help", env={"COLUMNS": "100"})
    assert run.stdout.index("│ listen ") < run.stdout.index("│ send-test ") < run.stdout.index("│ replay ")
    assert run.stdout.index("│ replay ") < run.stdout.index("│ verify ") < run.stdout.index("│ secret ")


def test_send_test_with_the_default_scheme_prints_no_warning_only_a_note() -> None:
    # "warning: replay checks skipped" on every default CI run was a warning nobody could act on.
    with endpoints.serve(lambda r, _: endpoints.correct("whatsable", "s3cret", r)) as endpoint:
        signed = run_cli("send-test", endpoint.url, "--secret", "s3cret")
        unsigned = run_cli("send-test", endpoint.url, "--no-semantics-checks")
    assert signed.exit_code == 0 and "warning:" not in signed.stderr
    assert "note: replay checks skipped: the whatsable-hmac scheme signs no timestamp" in signed.stderr
    assert unsigned.stderr.startswith("warning: security checks skipped: no secret")
    dry_run = run_cli("send-test", "http://127.0.0.1:9/", "--secret", "s3cret", "--dry-run")
    assert dry_run.stderr.startswith("note: replay checks skipped") and "warning:" not in dry_run.stderr


def test_listen_public_url_that_is_not_http_is_bad_input() -> None:
    # The banner showed "notaurl/webhook  (paste this into WhatsAble)".
    run = run_cli("listen", "--public-url", "hooks.example.com", "--port", "0")
    assert run.exit_code == 2, run.stderr
    said = " ".join(run.stderr.replace("│", " ").split())
    assert "Invalid value for '--public-url': --public-url 'hooks.example.com' is not an http(s) URL" in said


def test_a_recording_line_missing_a_field_names_the_field(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "rec.jsonl", [recorded(1, status_body(1))])
    with path.open("ab") as recording:
        recording.write(b'{"type": "request"}\n')  # the warning said: corrupt line ('id')
    run = run_cli("events", "list", "--record", str(path))
    assert run.exit_code == 0
    assert "rec.jsonl:2: corrupt line (missing field 'id'); skipped" in run.stderr


def test_replay_dry_run_shows_the_headers_that_would_be_sent(tmp_path: Path) -> None:
    # It showed the recorded Host and Content-Length, which replay (rightly) does not send.
    path = write_recording(tmp_path / "rec.jsonl", [recorded(1, status_body(1), [("Content-Length", "149")])])
    run = run_cli("replay", str(path), "--to", "http://127.0.0.1:9/hook", "--dry-run")
    assert run.exit_code == 0, run.stderr
    assert "Content-Type: application/json" in run.stdout
    assert "Host:" not in run.stdout and "Content-Length:" not in run.stdout


def test_send_test_interrupted_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import whatsable_cli.send_test.service

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(whatsable_cli.send_test.service, "run_send_test", interrupted)
    run = run_cli("send-test", "http://127.0.0.1:9/", "--junit", str(tmp_path / "r.xml"))
    assert run.exit_code == 130
    assert "interrupted (Ctrl-C): the checks did not finish; no report and no JUnit file" in run.stderr
    assert not (tmp_path / "r.xml").exists()
