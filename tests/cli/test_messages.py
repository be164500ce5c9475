"""Messages a user can act on: the app's own answer, a down forward target named, config keys, which config
file was read, out-of-range numbers as usage errors, plurals, one id length and one time rule, a terminal told that
stdin is being read, and nothing at all for a reader that stops early (`| head`)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest
from rich.console import Console

from tests.support import endpoints
from tests.support.helpers import run_cli
from tests.support.listen_helpers import free_port, listen_settings, running_listener
from tests.support.recordings import recorded, status_body, write_recording
from whatsable_cli.commands.options import read_body_source
from whatsable_cli.delivery.results import DeliveryResult
from whatsable_cli.listen.forwarder import Routing
from whatsable_cli.listen.stats import RunSummary
from whatsable_cli.render import listen_format, text
from whatsable_cli.render.listen import summary_lines

ANSWER = "Database is locked: retry later\nTraceback (most recent call last): ..."


def _answering(status: int) -> endpoints.Handler:
    async def handler(request: object) -> object:
        from aiohttp import web

        return web.Response(status=status, text=ANSWER)

    return handler  # type: ignore[return-value]


def test_send_test_shows_the_apps_answer_on_a_non_2xx() -> None:
    with endpoints.serve(lambda r, _: _answering(500)) as endpoint:
        narrow = run_cli("send-test", endpoint.url, "--no-semantics-checks", env={"COLUMNS": "80"})
        wide = run_cli("send-test", endpoint.url, "--no-semantics-checks", env={"COLUMNS": "200"})
    assert narrow.exit_code == wide.exit_code == 4
    assert "    answered: Database is locked: retry later" in narrow.stdout  # the first line only
    assert "Traceback" not in narrow.stdout
    assert "answered: Database is locked: retry later" in wide.stdout


def test_replay_shows_the_apps_answer_on_a_non_2xx(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "rec.jsonl", [recorded(1, status_body(1))])
    with endpoints.serve(lambda r, _: _answering(422)) as endpoint:
        run = run_cli("replay", str(path), "--to", endpoint.url)
    assert run.exit_code == 4
    line = run.stdout.splitlines()[0]
    assert line.startswith("✗ 422") and line.endswith("answered: Database is locked: retry later")


def test_listen_shows_the_apps_answer_cut_to_one_short_line() -> None:
    long = "x" * 200
    failed = DeliveryResult("http://localhost:3000/webhook", 500, 3.0, f"{long}\nsecond line")
    assert listen_format.forward_line(failed).plain.endswith(f"answered: {'x' * 79}…")
    ok = DeliveryResult("http://localhost:3000/webhook", 200, 3.0, '{"handled": true}')
    assert "answered" not in listen_format.forward_line(ok).plain  # a 2xx needs no comment


async def test_a_502_relayed_because_the_app_is_down_says_so_and_names_it(tmp_path: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}/webhook"
    async with running_listener(listen_settings(tmp_path, routing=Routing((down,)))) as listener:
        async with aiohttp.ClientSession() as session, session.post(listener.url, data=b"{}") as response:
            status, answer = response.status, await response.read()
        await listener.observer.wait_until(lambda: bool(listener.observer.events))
    assert status == 502
    assert text.first_line(answer).startswith(f'{{"error": "refused", "target": "{down}"')
    assert json.loads(answer)["message"].endswith(f"forward target {down}")
    shown = listen_format.compact_line(listener.observer.events[0]).plain
    assert "→ 502 (app down)" in shown


def test_an_unknown_config_key_is_a_warning_naming_the_file_the_key_and_a_guess(tmp_path: Path) -> None:
    config = tmp_path / "whatsable.toml"
    config.write_text('forward-to = ["http://localhost:3000/webhook"]\n')
    run = run_cli("send-test", "http://127.0.0.1:9/", "--dry-run", "--config", str(config))
    said = " ".join(run.stderr.split())
    assert f"warning: {config}: unknown key 'forward-to' ignored (did you mean 'forward_to'?)" in said


def test_doctor_says_which_config_file_it_read(tmp_path: Path) -> None:
    config = tmp_path / "whatsable.toml"
    config.write_text("port = 0\n")
    read = json.loads(run_cli("doctor", "--no-tunnel", "--json", "--config", str(config)).stdout)
    none = json.loads(run_cli("doctor", "--no-tunnel", "--json").stdout)
    assert read["checks"][0] == {
        "name": "config file",
        "status": "ok",
        "detail": str(config),
        "fix": None,
        "tunnel": False,
    }
    assert none["checks"][0]["detail"].startswith("none found")


@pytest.mark.parametrize("command", ["listen", "doctor"])
@pytest.mark.parametrize("port", ["99999", "-5"])
def test_a_port_out_of_range_is_a_usage_error_not_a_crash(command: str, port: str) -> None:
    run = run_cli(command, "--no-tunnel", "--port", port)
    assert run.exit_code == 2, run.stderr
    assert "Invalid value for '--port'" in run.stderr and "unexpected" not in run.stderr


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


def test_counts_are_singular_or_plural() -> None:
    assert [text.plural(n, "event") for n in (0, 1, 2)] == ["0 events", "1 event", "2 events"]
    one = RunSummary(recording=Path("rec.jsonl"), lines_recorded=1)
    one.events["message_status"] = 1
    lines = summary_lines(one)
    assert "1 event in" in lines[0] and "(1 line)" in lines[-1]


def test_one_id_length_and_one_time_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    request_id = "0123456789abcdef"
    assert listen_format.short_request_id(request_id) == text.short_id(request_id) == request_id[: text.SHORT_ID]
    utc = "2026-11-25T20:00:05.123Z"
    local = datetime.fromisoformat("2026-11-25T20:00:05+00:00").astimezone()
    assert text.local_datetime(utc) == local.strftime("%Y-%m-%d %H:%M:%S")
    assert listen_format.clock(utc) == text.local_clock(utc) == local.strftime("%H:%M:%S")


class _Terminal(io.BytesIO):
    def isatty(self) -> bool:
        return True


def test_reading_a_body_from_a_terminal_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    said = io.StringIO()
    monkeypatch.setattr("whatsable_cli.render.console.stderr_console", lambda: Console(file=said, width=200))
    stdin = io.TextIOWrapper(_Terminal(b'{"event": "x"}'))
    monkeypatch.setattr("sys.stdin", stdin)
    assert read_body_source("-") == b'{"event": "x"}'
    assert "reading the body from stdin" in said.getvalue() and "Ctrl-D" in said.getvalue()


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
