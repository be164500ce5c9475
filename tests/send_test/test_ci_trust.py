"""CI results that can be trusted: an empty secret is refused, and skipped checks say so everywhere (a note, not
a warning, when skipping is the scheme's normal case)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.support import endpoints
from tests.support.helpers import run_cli


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        (("--secret", ""), {}, "--secret is empty"),
        ((), {"WHATSABLE_SECRET": ""}, "WHATSABLE_SECRET is set but empty"),  # an unset repository secret
    ],
)
def test_an_empty_secret_is_bad_input(args: tuple[str, ...], env: dict[str, str], said: str) -> None:
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        run = run_cli("send-test", endpoint.url, *args, env=env)
        assert run.exit_code == 7
        assert said in run.stderr and "--allow-unsigned" in run.stderr
        assert endpoint.received.bodies == []  # refused before anything was sent


def test_an_empty_secret_in_the_config_file_is_bad_input(tmp_path: Path) -> None:
    config = tmp_path / "ci.toml"
    config.write_text('secret = ""\n')
    run = run_cli("send-test", "http://127.0.0.1:9/x", "--config", str(config))
    assert run.exit_code == 7
    assert f"the secret in config {config} is empty" in run.stderr


def test_allow_unsigned_reports_every_security_check_skipped(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        table = run_cli("send-test", endpoint.url, "--secret", "", "--allow-unsigned", "--junit", str(junit))
        as_json = run_cli("send-test", endpoint.url, "--secret", "", "--allow-unsigned", "--json")
    assert table.exit_code == as_json.exit_code == 0
    assert "warning" not in table.stderr  # unsigned on purpose: a note, not a warning
    security_rows = [line for line in table.stdout.splitlines() if "- skipped" in line]
    assert len(security_rows) == 6  # every forgery, the stale and future timestamps included
    report = json.loads(as_json.stdout)
    skipped = [c for c in report["checks"] if c["verdict"] == "skipped"]
    assert {c["group"] for c in skipped} == {"security"} and report["summary"]["skipped"] == 6
    suite = ET.parse(junit).getroot().find("testsuite")  # noqa: S314 (our own output)
    assert suite is not None
    cases = suite.findall("testcase")
    marked = [case for case in cases if case.find("skipped") is not None]
    assert suite.get("skipped") == str(len(marked)) == "6"
    assert suite.get("tests") == str(len(cases))
    assert all("not sent: no secret" in (case.find("skipped").get("message") or "") for case in marked)  # type: ignore[union-attr]


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


def test_checks_turned_off_are_reported_skipped_not_left_out() -> None:
    with endpoints.serve(lambda r, _: endpoints.correct("whatsable", "s3cret", r)) as endpoint:
        run = run_cli(
            "send-test", endpoint.url, "--secret", "s3cret", "--no-security-checks", "--no-semantics-checks", "--json"
        )
    assert run.exit_code == 0
    checks = json.loads(run.stdout)["checks"]
    by_verdict = {c["check"]: c["verdict"] for c in checks}
    assert by_verdict["tampered body"] == by_verdict["duplicate, 2nd delivery"] == by_verdict["read first"] == "skipped"
    reasons = {c["message"] for c in checks if c["verdict"] == "skipped"}
    assert reasons == {"not sent: --no-security-checks", "not sent: --no-semantics-checks"}
    assert len(endpoint.received.bodies) == 2  # only the deliveries went out


def test_dry_run_lists_only_what_would_be_sent() -> None:
    run = run_cli("send-test", "http://127.0.0.1:9/x", "--secret", "s3cret", "--dry-run", "--json")
    assert run.exit_code == 0
    names = [r["check"] for r in json.loads(run.stdout)["requests"]]
    assert "stale timestamp" not in names and "tampered body" in names
