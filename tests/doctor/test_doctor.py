"""`whatsable doctor`: each check, its fix, --json, and the exit code (0 all OK, 6 tunnel cannot work, 7 other)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.support.helpers import run_cli
from tests.support.recordings import recorded, status_body, write_recording
from tests.support.tunnel_helpers import agent_env, install_fake_agent
from whatsable_cli.doctor import checks as doctor
from whatsable_cli.doctor.checks import FAIL, OK, WARN, check_clock, check_history, check_recordings, check_secret
from whatsable_cli.recording.history import History
from whatsable_cli.recording.schema import SCHEMA_VERSION

TOKEN = "2bXdoctorTOKEN_abcdefghijklmnopqrstu"


@pytest.fixture
def agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    agent_env(monkeypatch, tmp_path / "agent.jsonl", token=TOKEN)
    return install_fake_agent(tmp_path / "bin")


def checks_of(run_stdout: str) -> dict[str, dict[str, Any]]:
    report = json.loads(run_stdout)
    return {check["name"]: check for check in report["checks"]}


def test_all_good_exits_0(agent: Path) -> None:
    secret = run_cli("secret", "generate").stdout.strip()
    run = run_cli("doctor", "--ngrok-path", str(agent), "--port", "0", "--secret", secret, "--json")
    checks = checks_of(run.stdout)
    assert checks["ngrok agent"]["status"] == OK
    assert checks["ngrok version"]["detail"].startswith("3.30.0")
    assert checks["ngrok authtoken"]["status"] == OK
    assert "from NGROK_AUTHTOKEN" in str(checks["ngrok authtoken"]["detail"])
    assert checks["signing secret"]["status"] == OK
    assert checks["event history"]["status"] == OK
    assert "recording folder" not in checks  # only checked when listen is to write a --record file
    assert TOKEN not in run.stdout + run.stderr
    assert secret not in run.stdout + run.stderr
    assert all(c["status"] != FAIL for c in checks.values())
    assert run.exit_code == 0, run.stdout


def test_missing_token_and_old_agent_exit_6_with_fixes(agent: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NGROK_AUTHTOKEN")
    monkeypatch.setenv("FAKE_NGROK_SCENARIO", "too_old")
    run = run_cli("doctor", "--ngrok-path", str(agent), "--port", "0")
    assert run.exit_code == 6
    assert "✗ fail  ngrok version" in run.stdout and "is too old (need 3.30.0 or newer)" in run.stdout
    assert "✗ fail  ngrok authtoken" in run.stdout and "ngrok config add-authtoken" in run.stdout
    assert "fix:" in run.stdout
    assert "2 checks failed (exit 6)" in run.stdout  # singular and plural right


def test_missing_named_binary_exits_6(tmp_path: Path) -> None:
    run = run_cli("doctor", "--ngrok-path", str(tmp_path / "none"), "--port", "0", "--json")
    assert checks_of(run.stdout)["ngrok agent"]["status"] == FAIL
    assert run.exit_code == 6


def test_no_agent_anywhere_fails_instead_of_promising_a_download(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("PYNGROK_NGROK_PATH", raising=False)
    run = run_cli("doctor", "--port", "0", "--json")
    agent = checks_of(run.stdout)["ngrok agent"]
    assert agent["status"] == FAIL and "ngrok agent not found" in str(agent["detail"])
    assert "ngrok.com/download" in str(agent["fix"])
    assert run.exit_code == 6


def test_port_in_use_exits_7(agent: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = run_cli("doctor", "--ngrok-path", str(agent), "--port", str(port), "--json")
    check = checks_of(run.stdout)["listen port"]
    assert check["status"] == FAIL and f"127.0.0.1:{port} is not free" in str(check["detail"])
    assert "--port" in str(check["fix"])
    assert run.exit_code == 7


def test_no_tunnel_skips_ngrok_checks(tmp_path: Path) -> None:
    run = run_cli("doctor", "--no-tunnel", "--port", "0", "--json")
    assert not any(name.startswith("ngrok") for name in checks_of(run.stdout))
    assert run.exit_code == 0


def test_secret_form_is_checked_against_the_scheme() -> None:
    assert check_secret(None, "auto").status == WARN
    wrong = check_secret("not-base64!!", "standard")
    assert wrong.status == FAIL and "not usable with --scheme standard" in wrong.detail
    assert "not-base64!!" not in wrong.detail
    assert check_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "standard").status == OK
    assert check_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whatsable").status == WARN


@pytest.mark.parametrize("scheme", ["standard", "svix", "auto", "whatsable"])
def test_empty_whsec_key_fails(scheme: str) -> None:
    found = check_secret("whsec_", scheme)
    assert found.status == FAIL
    assert "empty" in found.detail and "right form" not in found.detail
    assert found.fix


def test_empty_whsec_key_makes_doctor_exit_7() -> None:
    run = run_cli("doctor", "--no-tunnel", "--port", "0", "--secret", "whsec_", "--scheme", "standard", "--json")
    assert checks_of(run.stdout)["signing secret"]["status"] == FAIL
    assert run.exit_code == 7


def test_unpadded_key_is_the_right_form() -> None:
    assert check_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMQ", "standard").status == OK


def test_auto_tells_a_broken_whsec_key_from_a_plain_secret() -> None:
    assert check_secret("whsec_abc!", "auto").status == WARN
    plain = check_secret("a-whatsable_secret", "auto")
    assert plain.status == OK and "standard/svix requests cannot be verified" in plain.detail


def test_unwritable_recording_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"  # a file where a folder should be: unwritable even for root
    blocker.write_text("x", encoding="utf-8")
    result = check_recordings(blocker / "recordings")
    assert result.status == FAIL and "not writable" in result.detail
    assert result.fix is not None and "--record" in result.fix


def test_new_recording_folder_is_fine_when_its_parent_is_writable(tmp_path: Path) -> None:
    result = check_recordings(tmp_path / "a" / "b")
    assert result.status == OK and "will be created" in result.detail


def test_a_history_not_made_yet_will_be_created(tmp_path: Path) -> None:
    found = check_history(tmp_path / "data" / "history.sqlite3")
    assert found.status == OK and "will be created" in found.detail
    assert not (tmp_path / "data").exists()  # looking creates nothing


def test_a_history_in_use_shows_what_it_holds_and_is_not_changed_by_looking(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with History.open(path):
        pass
    before = path.read_bytes()
    found = check_history(path)
    assert found.status == OK, found
    assert found.detail.startswith(f"{path}: 0 events in 0 runs, ")
    assert path.read_bytes() == before


def test_doctor_reports_the_history_listen_wrote(tmp_path: Path) -> None:
    recording = tmp_path / "rec.jsonl"
    write_recording(recording, [recorded(i, status_body(i)) for i in range(3)])
    assert run_cli("events", "import", str(recording)).exit_code == 0
    run = run_cli("doctor", "--no-tunnel", "--port", "0", "--json")
    history = checks_of(run.stdout)["event history"]
    assert history["status"] == OK and ": 3 events in 1 run, " in history["detail"]


@pytest.mark.hostile
@pytest.mark.parametrize("content", [b"not a database at all\n" * 50, b"SQLite format 3\x00" + b"\xff" * 200])
def test_a_damaged_history_fails_with_the_way_out_and_doctor_exits_7(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "data" / "history.sqlite3"
    path.parent.mkdir()
    path.write_bytes(content)
    found = check_history(path)
    assert found.status == FAIL and "is damaged" in found.detail
    assert found.fix is not None and ".broken" in found.fix
    assert path.read_bytes() == content  # nothing lost by looking
    run = run_cli("doctor", "--no-tunnel", "--port", "0")
    assert run.exit_code == 7 and "event history" in run.stdout and "Traceback" not in run.stdout


def test_a_history_from_a_newer_whatsable_fails(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with History.open(path) as history:
        history.conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    found = check_history(path)
    assert found.status == FAIL and "newer whatsable" in found.detail
    assert found.fix is not None and "upgrade" in found.fix


def test_a_history_others_may_read_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with History.open(path):
        pass
    path.chmod(0o644)
    found = check_history(path)
    assert found.status == WARN and "other users may read it" in found.detail
    assert found.fix == f"chmod 600 '{path}'"


def test_a_history_that_cannot_be_created_fails(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"  # a file where the data dir should be: unwritable even for root
    blocker.write_text("x", encoding="utf-8")
    found = check_history(blocker / "data" / "history.sqlite3")
    assert found.status == FAIL and "cannot be created" in found.detail
    assert found.fix is not None and "--no-history" in found.fix


def test_clock_plausibility(monkeypatch: pytest.MonkeyPatch) -> None:
    assert check_clock(lambda: 0.0).status == FAIL  # 1970
    monkeypatch.setattr(doctor, "_ntp_synchronised", lambda: True)
    assert check_clock(lambda: 1_800_000_000.0).status == OK  # 2027, synchronised
    monkeypatch.setattr(doctor, "_ntp_synchronised", lambda: False)
    unsynced = check_clock(lambda: 1_800_000_000.0)
    assert unsynced.status == WARN and "not synchronised" in unsynced.detail
