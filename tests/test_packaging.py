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


def _purelib(python: Path | str) -> Path:
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return Path(subprocess.run([str(python), "-c", code], check=True, capture_output=True, text=True).stdout.strip())


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel offline and install it into a fresh virtual environment; returns its bin folder.

    The new venv gets the dependencies through a .pth line naming this environment's site-packages (no
    network); a path added that way has its own .pth files ignored, so this checkout's editable install
    cannot leak in: the package can only come from the wheel.
    """
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=BUILD_TIMEOUT_S,
    )
    [wheel] = out.glob("whatsable_cli-*.whl")
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=BUILD_TIMEOUT_S)
    python = venv / "bin" / "python"
    (_purelib(python) / "_test_dependencies.pth").write_text(str(_purelib(sys.executable)) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        timeout=BUILD_TIMEOUT_S,
    )
    return venv / "bin"


def run_installed(bin_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(bin_dir / args[0]), *args[1:]], cwd=cwd, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S
    )


@pytest.mark.slow
def test_wheel_runs_from_another_directory_with_bundled_fixtures(installed: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run_installed(installed, elsewhere, "python", "-c", "import whatsable_cli; print(whatsable_cli.__file__)")
    package = Path(where.stdout.strip()).parent
    assert package.is_relative_to(installed.parent), where.stdout + where.stderr

    listed = run_installed(installed, elsewhere, "whatsable", "fixtures", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    fixtures = [json.loads(line) for line in listed.stdout.splitlines()]
    bundled = Path(__file__).resolve().parent.parent / "fixtures"
    assert len(fixtures) == len([*bundled.glob("*/*.json"), *bundled.glob("flat/*/*.json")])  # both families
    assert all(f["origin"] in ("documented", "adapted") for f in fixtures)  # sources.toml shipped too
    assert all(Path(f["path"]).is_relative_to(package / "_fixtures") for f in fixtures)

    dry = run_installed(
        installed, elsewhere, "whatsable", "send-test", "http://127.0.0.1:9/hook", "--dry-run", "--json"
    )
    assert dry.returncode == 0, dry.stderr
    requests = json.loads(dry.stdout)["requests"]
    assert [r["request"] for r in requests[:2]] == ["message_status/delivered", "incoming_message/text"]
    assert json.loads(requests[1]["body"])["event"] == "incoming_message"
