"""A missing ngrok agent: asked about on a terminal, downloaded with a note under --yes or without one, and
pyngrok's installer kept off stdout. Nothing here downloads: the installer is always a stand-in."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from tests.support.helpers import run_cli
from tests.support.tunnel_helpers import install_fake_agent
from whatsable_cli.commands.agent_download import agent_ready
from whatsable_cli.errors import TunnelError


@pytest.fixture
def no_agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No agent anywhere (PATH empty of ngrok), an authtoken set; the default location it would go to."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.delenv("PYNGROK_NGROK_PATH", raising=False)
    monkeypatch.setenv("NGROK_AUTHTOKEN", "test-token")
    return tmp_path / "home" / ".config" / "ngrok" / "ngrok"


@pytest.fixture
def notes(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    said = io.StringIO()
    monkeypatch.setattr("whatsable_cli.render.console.stderr_console", lambda: Console(file=said, width=300))
    return said


class Installer:
    def __init__(self) -> None:
        self.paths: list[Path] = []

    def __call__(self, path: Path) -> None:
        self.paths.append(path)
        install_fake_agent(path.parent, path.name)


def test_on_a_terminal_it_asks_first_and_says_where(no_agent: Path, notes: io.StringIO) -> None:
    questions: list[str] = []
    install = Installer()
    agent_ready(None, yes=False, interactive=True, install=install, confirm=lambda q: questions.append(q) or True)
    assert questions == [f"The ngrok agent is not installed. Download it from ngrok.com to {no_agent}?"]
    assert install.paths == [no_agent] and no_agent.exists()
    assert f"ngrok agent installed at {no_agent}" in notes.getvalue()


def test_declining_is_the_agent_not_found_error_and_nothing_is_installed(no_agent: Path, notes: io.StringIO) -> None:
    install = Installer()
    with pytest.raises(TunnelError) as caught:
        agent_ready(None, yes=False, interactive=True, install=install, confirm=lambda q: False)
    assert caught.value.code == "ngrok_not_found" and "ngrok.com/download" in (caught.value.hint or "")
    assert install.paths == [] and not no_agent.exists()


@pytest.mark.parametrize(("yes", "interactive", "why"), [(True, True, "--yes"), (False, False, "not a terminal")])
def test_yes_or_no_terminal_downloads_with_a_note(
    no_agent: Path, notes: io.StringIO, yes: bool, interactive: bool, why: str
) -> None:
    def never_asked(question: str) -> bool:
        raise AssertionError("asked")

    install = Installer()
    agent_ready(None, yes=yes, interactive=interactive, install=install, confirm=never_asked)
    said = notes.getvalue()
    assert f"the ngrok agent is not installed: downloading it from ngrok.com to {no_agent} ({why}" in said
    assert install.paths == [no_agent]


def test_a_path_the_user_named_is_never_downloaded_to(no_agent: Path, tmp_path: Path) -> None:
    install = Installer()
    with pytest.raises(TunnelError, match="from --ngrok-path"):
        agent_ready(str(tmp_path / "typo" / "ngrok"), yes=True, install=install)
    assert install.paths == []


def test_without_an_authtoken_nothing_is_downloaded(no_agent: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NGROK_AUTHTOKEN")
    install = Installer()
    agent_ready(None, yes=True, install=install)  # the tunnel then fails on the authtoken, before any download
    assert install.paths == []


def test_an_installed_agent_is_left_alone(no_agent: Path) -> None:
    install_fake_agent(no_agent.parent)
    install = Installer()
    agent_ready(None, yes=False, interactive=True, install=install, confirm=lambda q: False)
    assert install.paths == []


def test_pyngrok_installer_output_goes_to_stderr(
    no_agent: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pyngrok import installer

    from whatsable_cli.tunnel.ngrok import install_agent

    def fake_install(path: str, **kwargs: object) -> None:  # stands in for the download: prints progress
        print("Downloading ngrok: 100%")
        install_fake_agent(Path(path).parent)

    monkeypatch.setattr(installer, "install_ngrok", fake_install)
    install_agent(no_agent)
    out, err = capsys.readouterr()
    assert out == "" and "Downloading ngrok: 100%" in err
    assert no_agent.exists()


def test_a_failed_download_is_a_tunnel_error(no_agent: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pyngrok import installer
    from pyngrok.exception import PyngrokNgrokInstallError

    from whatsable_cli.tunnel.ngrok import install_agent

    def offline(path: str, **kwargs: object) -> None:
        raise PyngrokNgrokInstallError("An error occurred while downloading ngrok: no network")

    monkeypatch.setattr(installer, "install_ngrok", offline)
    with pytest.raises(TunnelError) as caught:
        install_agent(no_agent)
    assert caught.value.code == "ngrok_download_failed" and caught.value.exit_code == 6
    assert caught.value.message.startswith("ngrok agent not found, and downloading it failed (no network?)")


def test_listen_without_a_terminal_downloads_with_a_note_and_a_failure_exits_6(
    no_agent: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(path: Path) -> None:
        raise TunnelError("ngrok agent not found, and downloading it failed (no network?)", code="x")

    monkeypatch.setattr("whatsable_cli.commands.agent_download._pyngrok_install", offline)
    run = run_cli("listen", "--port", "0", "--no-record")
    assert run.exit_code == 6
    assert f"downloading it from ngrok.com to {no_agent} (not a terminal" in " ".join(run.stderr.split())
    assert "downloading it failed" in run.stderr and run.stdout == ""
