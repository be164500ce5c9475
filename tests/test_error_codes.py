"""Every bad input carries a stable snake_case code (the --json error object and scripts rely on it)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.helpers import run_cli
from whatsable_cli.errors import BadInputError
from whatsable_cli.replay.service import ReplaySettings
from whatsable_cli.replay.sources import iter_items, resolve_sources
from whatsable_cli.replay.stats import StatusExpectation
from whatsable_cli.webhooks.signing import generate_secret, sign


def _read_all_stdin(data: bytes, *, strict: bool = False) -> None:
    list(iter_items(resolve_sources(["-"]), stdin=io.BytesIO(data), strict=strict))


@pytest.mark.parametrize(
    ("cause", "code"),
    [
        (lambda: ReplaySettings(url="http://localhost:3000/x", concurrency=0), "invalid_concurrency"),
        (lambda: ReplaySettings(url="http://localhost:3000/x", timeout=0), "invalid_timeout"),
        (lambda: StatusExpectation("ok"), "invalid_expect"),
        (lambda: StatusExpectation(","), "invalid_expect"),
        (lambda: _read_all_stdin(b"\n\n"), "empty_stdin"),
        (lambda: _read_all_stdin(b'{"a": 1}\n{"b": 2}\nnot json\n', strict=True), "not_json"),
        (lambda: sign("standard", generate_secret("standard"), b"{}", msg_id="a.b"), "invalid_message_id"),
    ],
)
def test_bad_input_has_a_stable_code(cause: Callable[[], object], code: str) -> None:
    with pytest.raises(BadInputError) as raised:
        cause()
    assert raised.value.code == code


def test_a_json_run_that_fails_prints_the_error_as_json_on_stdout(tmp_path: Path) -> None:
    result = run_cli("verify", str(tmp_path / "missing.json"), "--secret", "s", "--json")
    assert result.exit_code == 7
    error = json.loads(result.stdout.strip().splitlines()[-1])
    assert error["type"] == "error" and error["exit_code"] == 7
    assert error["code"] and error["message"] and "missing.json" in error["message"]


def test_a_plain_run_that_fails_keeps_stdout_empty(tmp_path: Path) -> None:
    result = run_cli("verify", str(tmp_path / "missing.json"), "--secret", "s")
    assert result.exit_code == 7 and result.stdout == ""
