"""Shared test set-up: an isolated home, data and config dir for every test, so nothing touches the user's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("WHATSABLE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WHATSABLE_CONFIG_DIR", str(tmp_path / "config"))
    for var in ("WHATSABLE_SECRET", "WHATSABLE_SCHEME", "WHATSABLE_CONFIG", "NGROK_AUTHTOKEN", "NO_COLOR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


@pytest.fixture(autouse=True)
def no_ngrok_download(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite is network-free by construction: any attempt to download the ngrok agent fails the test."""
    from pyngrok import installer

    def refuse(*args: object, **kwargs: object) -> None:
        pytest.fail("a test tried to download the ngrok agent", pytrace=False)

    monkeypatch.setattr(installer, "install_ngrok", refuse)
    monkeypatch.setattr(installer, "_download_file", refuse)
