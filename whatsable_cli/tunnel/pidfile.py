"""A pidfile for the ngrok agent we start, so the next run can find and stop one a killed run left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from whatsable_cli.paths import data_dir

PIDFILE_NAME = "ngrok-agent.json"


@dataclass(frozen=True)
class AgentRecord:
    """One agent of ours: its pid, the binary, and the `whatsable` process that owns it."""

    pid: int
    agent_path: str
    owner_pid: int


@dataclass(frozen=True)
class Leftover:
    """What the start-up check found: nothing, an agent it stopped, or one it must leave alone."""

    status: Literal["none", "stopped", "running_elsewhere", "unstoppable"]
    pid: int = 0
    owner_pid: int = 0


def pidfile_path() -> Path:
    return data_dir() / PIDFILE_NAME


def write_record(record: AgentRecord, path: Path | None = None) -> None:
    path = path or pidfile_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(asdict(record)))
    partial.replace(path)


def read_record(path: Path | None = None) -> AgentRecord | None:
    try:
        values = json.loads((path or pidfile_path()).read_text(encoding="utf-8"))
        return AgentRecord(int(values["pid"]), str(values["agent_path"]), int(values["owner_pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_record(pid: int | None = None, path: Path | None = None) -> None:
    """Remove the pidfile (only if it still names `pid`, when given: another run may have replaced it)."""
    path = path or pidfile_path()
    current = read_record(path)
    if pid is None or current is None or current.pid == pid:
        path.unlink(missing_ok=True)


def is_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return fields[0] == "Z"


def command_line(pid: int) -> str | None:
    """The process's command line (/proc on Linux, `ps` elsewhere), to tell our agent from a reused pid."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        pass
    if sys.platform == "win32":
        return None
    try:
        done = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, check=False)
    except OSError:
        return None
    return done.stdout.strip() or None


def is_our_agent(record: AgentRecord) -> bool:
    line = command_line(record.pid)
    return line is not None and record.agent_path in line and " start " in f" {line} "


def stop_process(pid: int, grace: float = 5.0) -> bool:
    """SIGTERM, then SIGKILL after `grace` seconds; True once the process is gone."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not is_alive(pid):
                return True
            time.sleep(0.05)  # not our child: there is nothing to wait() on
    return not is_alive(pid)


def stop_leftover(path: Path | None = None) -> Leftover:
    """Stop the agent a killed `whatsable listen` left running (it would hold the session: ERR_NGROK_108)."""
    record = read_record(path)
    if record is None:
        return Leftover("none")
    if not is_alive(record.pid) or not is_our_agent(record):
        remove_record(path=path)
        return Leftover("none")
    if record.owner_pid != os.getpid() and is_alive(record.owner_pid):
        return Leftover("running_elsewhere", record.pid, record.owner_pid)
    if not stop_process(record.pid):
        return Leftover("unstoppable", record.pid, record.owner_pid)
    remove_record(path=path)
    return Leftover("stopped", record.pid, record.owner_pid)
