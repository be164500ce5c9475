"""The wheel works on its own: built, installed into a fresh directory, run from elsewhere (fixtures included)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel offline (hatchling from the test extra) and pip-install it into a target dir."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=BUILD_TIMEOUT_S,
    )
    [wheel] = out.glob("whatsable_cli-*.whl")
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=BUILD_TIMEOUT_S,
    )
    return target


def run_installed(target: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(target)}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S
    )


@pytest.mark.slow
def test_wheel_runs_from_another_directory_with_bundled_fixtures(installed: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run_installed(installed, elsewhere, "-c", "import whatsable_cli; print(whatsable_cli.__file__)")
    assert Path(where.stdout.strip()).is_relative_to(installed), where.stdout + where.stderr

    listed = run_installed(installed, elsewhere, "-m", "whatsable_cli", "fixtures", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    fixtures = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(fixtures) == 10
    assert all(Path(f["path"]).is_relative_to(installed / "whatsable_cli" / "_fixtures") for f in fixtures)

    dry = run_installed(
        installed, elsewhere, "-m", "whatsable_cli", "send-test", "http://127.0.0.1:9/hook", "--dry-run", "--json"
    )
    assert dry.returncode == 0, dry.stderr
    requests = json.loads(dry.stdout)["requests"]
    assert [r["request"] for r in requests[:2]] == ["message_status/delivered", "incoming_message/text"]
    assert json.loads(requests[1]["body"])["event"] == "incoming_message"
