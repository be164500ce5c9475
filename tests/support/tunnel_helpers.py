"""Test helpers for the tunnel: the stand-in ngrok agent installed into tmp_path, its log, waiting on conditions."""

from __future__ import annotations

import json
import os
import select
import sys
import threading
from pathlib import Path
from typing import Any

from whatsable_cli.tunnel.ngrok import TunnelNotice
from whatsable_cli.tunnel.pidfile import is_alive

FAKE_SOURCE = Path(__file__).with_name("fake_ngrok.py")


def install_fake_agent(folder: Path, name: str = "ngrok") -> Path:
    """Copy the stand-in agent into `folder` as an executable whose interpreter is this Python."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    body = FAKE_SOURCE.read_text(encoding="utf-8").split("\n", 1)[1]
    target.write_text(f"#!{sys.executable}\n{body}", encoding="utf-8")
    target.chmod(0o755)
    return target


def agent_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def started_pids(path: Path) -> list[int]:
    return [entry["pid"] for entry in agent_log(path) if entry["event"] == "start"]


def wait_gone(pid: int, timeout: float = 10.0) -> None:
    """Wait for a process that is not our child to end: a pidfd becomes readable when it does."""
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        readable, _, _ = select.select([handle], [], [], timeout)
    finally:
        os.close(handle)
    assert readable or not is_alive(pid), f"process {pid} still running after {timeout} s"


class Notices:
    """Collects tunnel notices and lets a test wait for a kind without sleeping."""

    def __init__(self) -> None:
        self.items: list[TunnelNotice] = []
        self._changed = threading.Condition()

    def __call__(self, notice: TunnelNotice) -> None:
        with self._changed:
            self.items.append(notice)
            self._changed.notify_all()

    def wait_for(self, kind: str, timeout: float = 10.0) -> TunnelNotice:
        with self._changed:
            found = self._changed.wait_for(lambda: self._first(kind) is not None, timeout)
            if not found:
                raise AssertionError(f"no {kind!r} notice within {timeout} s; got {self.items}")
            notice = self._first(kind)
            assert notice is not None
            return notice

    def _first(self, kind: str) -> TunnelNotice | None:
        return next((n for n in self.items if n.kind == kind), None)


def agent_env(monkeypatch: Any, log: Path, scenario: str = "ok", token: str | None = "fake-token-123") -> None:  # noqa: S107
    monkeypatch.setenv("FAKE_NGROK_SCENARIO", scenario)
    monkeypatch.setenv("FAKE_NGROK_LOG", str(log))
    if token is not None:
        monkeypatch.setenv("NGROK_AUTHTOKEN", token)
    monkeypatch.delenv("PYNGROK_NGROK_PATH", raising=False)
    monkeypatch.delenv("FAKE_NGROK_SESSION", raising=False)
