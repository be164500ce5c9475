"""`whatsable doctor`'s checks (can `listen` work here?): each gives a status, what was found and the fix."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal

from whatsable_cli.config import DEFAULT_HOST, DEFAULT_PORT
from whatsable_cli.errors import ExitCode, WhatsableError
from whatsable_cli.paths import history_path
from whatsable_cli.recording.history_file import read_history_file
from whatsable_cli.tunnel import agent as ngrok_agent
from whatsable_cli.tunnel import pidfile as agent_pidfile
from whatsable_cli.webhooks.signing import WHSEC_PREFIX, get_scheme, listener_secret_warning

Status = Literal["ok", "warn", "fail"]
OK: Final = "ok"
WARN: Final = "warn"
FAIL: Final = "fail"
# Before this the clock is surely wrong (this tool did not exist); far beyond it, too.
EARLIEST_PLAUSIBLE = datetime(2025, 1, 1, tzinfo=UTC)
LATEST_PLAUSIBLE = datetime(2045, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Check:
    """One finding. `tunnel` findings that fail mean the tunnel cannot work (exit 6); others exit 7."""

    name: str
    status: Status
    detail: str
    fix: str | None = None
    tunnel: bool = False


@dataclass(frozen=True)
class DoctorSettings:
    ngrok_path: str | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    secret: str | None = None
    scheme: str = "auto"
    record_dir: Path | None = None  # the folder of listen's --record file, when it writes one
    history: Path | None = None  # the history database (the data dir's by default)
    tunnel: bool = True


def run_checks(settings: DoctorSettings, clock: Callable[[], float] = time.time) -> list[Check]:
    checks: list[Check] = []
    if settings.tunnel:
        checks += check_agent(settings.ngrok_path)
        checks.append(check_authtoken())
        checks.append(check_leftover_agent())
    checks.append(check_secret(settings.secret, settings.scheme))
    checks.append(check_port(settings.host, settings.port))
    checks.append(check_history(settings.history or history_path()))
    if settings.record_dir is not None:
        checks.append(check_recordings(settings.record_dir))
    checks.append(check_clock(clock))
    return checks


def exit_code_for(checks: list[Check]) -> ExitCode:
    """6 when the tunnel cannot work, else 7 when anything else failed, else 0 (warnings do not count)."""
    if any(c.status == FAIL and c.tunnel for c in checks):
        return ExitCode.TUNNEL
    return ExitCode.BAD_INPUT if any(c.status == FAIL for c in checks) else ExitCode.OK


def check_agent(explicit: str | None) -> list[Check]:
    agent = ngrok_agent.find_agent(explicit)
    if not agent.exists:
        error = ngrok_agent.missing_binary_error(agent)
        return [Check("ngrok agent", FAIL, error.message, error.hint, tunnel=True)]
    found = Check("ngrok agent", OK, f"{agent.path} (from {agent.source})", tunnel=True)
    try:
        version = ngrok_agent.agent_version(agent)
        ngrok_agent.require_recent(version, agent)
    except WhatsableError as err:
        return [found, Check("ngrok version", FAIL, err.message, err.hint, tunnel=True)]
    text = ngrok_agent.version_text(version)
    return [found, Check("ngrok version", OK, f"{text} (3.30 or newer needed)", tunnel=True)]


def check_authtoken() -> Check:
    config_path = ngrok_agent.default_config_path()
    token = ngrok_agent.find_authtoken(config_path)
    if token is None:
        error = ngrok_agent.missing_authtoken_error(config_path)
        return Check("ngrok authtoken", FAIL, error.message, error.hint, tunnel=True)
    shape = "" if token.value.isascii() and " " not in token.value else " (but it has odd characters)"
    return Check("ngrok authtoken", OK, f"set, from {token.source}; not shown{shape}", tunnel=True)


def check_leftover_agent() -> Check:
    record = agent_pidfile.read_record()
    if record is None or not agent_pidfile.is_alive(record.pid) or not agent_pidfile.is_our_agent(record):
        return Check("leftover agent", OK, "none from an earlier run", tunnel=True)
    if agent_pidfile.is_alive(record.owner_pid):
        detail = f"ngrok agent pid {record.pid} belongs to a running `whatsable listen` (pid {record.owner_pid})"
        return Check("leftover agent", WARN, detail, "a free ngrok account allows one agent session", tunnel=True)
    return Check(
        "leftover agent",
        WARN,
        f"ngrok agent pid {record.pid} was left by a killed run and holds your ngrok session",
        f"the next `whatsable listen` stops it; or `kill {record.pid}`",
        tunnel=True,
    )


def check_secret(secret: str | None, scheme: str) -> Check:
    if not secret:
        return Check(
            "signing secret",
            WARN,
            "not set: `listen` records events but cannot verify their signatures",
            "`whatsable secret generate` (or copy WhatsAble's), then export WHATSABLE_SECRET=...",
        )
    name = scheme.lower()
    try:
        warning = listener_secret_warning(name, secret)  # the very check `listen` makes before it serves
    except WhatsableError as err:
        usable = "usable" if name == "auto" else f"usable with --scheme {name}"
        return Check("signing secret", FAIL, f"set, but not {usable}: {err.message}", err.hint)
    if name == "auto":
        if not secret.startswith(WHSEC_PREFIX):
            limit = "; standard/svix requests cannot be verified with it" if warning is not None else ""
            return Check("signing secret", OK, f"set ({len(secret)} characters, a plain secret{limit}); not shown")
        if warning is not None:
            return Check(
                "signing secret",
                WARN,
                "starts with whsec_ but is not base64: standard/svix requests cannot be verified with it",
                "copy the whole key again, or generate one with `whatsable secret generate --scheme standard`",
            )
        return Check("signing secret", OK, f"set ({len(secret)} characters, a whsec_ key); not shown")
    if not get_scheme(name).timestamped and secret.startswith(WHSEC_PREFIX):
        return Check(
            "signing secret",
            WARN,
            "a whsec_ key with the whatsable scheme is used as plain text",
            "fine if WhatsAble gave you exactly this; else use --scheme standard",
        )
    return Check("signing secret", OK, f"set ({len(secret)} characters, right form for {name}); not shown")


def check_port(host: str, port: int) -> Check:
    if port == 0:
        return Check("listen port", OK, "0: a free port is chosen at start")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the listener binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            return Check(
                "listen port",
                FAIL,
                f"{host}:{port} is not free ({exc.strerror or exc})",
                "stop what uses it (`lsof -i :PORT`), or pick another with --port (0 = any free port)",
            )
    return Check("listen port", OK, f"{host}:{port} is free")


def check_history(path: Path) -> Check:
    """The event history every `listen` run writes to: readable, ours to write, private, not from a newer tool."""
    name = "event history"
    try:
        found = read_history_file(path)
    except WhatsableError as exc:  # damaged, locked or unreadable: the same words a command would print
        return Check(name, FAIL, exc.message, exc.hint)
    if found is None:
        folder = _writable_folder(path.parent)
        if isinstance(folder, OSError):
            return Check(
                name,
                FAIL,
                f"{path} cannot be created: {path.parent} is not writable ({folder.strerror or folder})",
                "fix the data dir's permissions, set WHATSABLE_DATA_DIR, or run `listen --no-history`",
            )
        return Check(name, OK, f"{path} will be created on the first `listen`")
    events = f"{found.events:,} event{'s' if found.events != 1 else ''}"
    held = f"{events} in {found.runs:,} run{'s' if found.runs != 1 else ''}"
    detail = f"{path}: {held}, {found.size_bytes / (1 << 20):.1f} MiB"
    if found.too_new:
        return Check(
            name,
            FAIL,
            f"{path} was written by a newer whatsable (schema {found.schema_version})",
            "upgrade whatsable (pip install -U whatsable)",
        )
    if not found.writable:
        return Check(
            name,
            FAIL,
            f"{path} is not writable",
            "fix its permissions (or its folder's), or run `listen --no-history`",
        )
    if not found.private:
        return Check(name, WARN, f"{detail}; other users may read it (mode {found.mode:o})", f"chmod 600 '{path}'")
    return Check(name, OK, detail)


def check_recordings(folder: Path) -> Check:
    folder_or_error = _writable_folder(folder)
    if isinstance(folder_or_error, OSError):
        exc = folder_or_error
        return Check(
            "recording folder",
            FAIL,
            f"{folder} is not writable ({exc.strerror or exc})",
            "fix its permissions, or record elsewhere with --record PATH",
        )
    state = "writable" if folder_or_error == folder else f"will be created (in {folder_or_error}, which is writable)"
    return Check("recording folder", OK, f"{folder} {state}")


def _writable_folder(folder: Path) -> Path | OSError:
    """The nearest folder that exists on the way to `folder`, when a file can be made in it; else why not."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        return exc
    return existing


def check_clock(clock: Callable[[], float]) -> Check:
    """Offline we can only judge plausibility and the OS's own sync state; there is no time server to ask."""
    now = datetime.fromtimestamp(clock(), UTC)
    shown = now.strftime("%Y-%m-%d %H:%M:%S UTC")
    if not EARLIEST_PLAUSIBLE <= now <= LATEST_PLAUSIBLE:
        return Check(
            "clock",
            FAIL,
            f"{shown} cannot be right",
            "set the system time (timestamped signatures allow only ±300 s of skew)",
        )
    synced = _ntp_synchronised()
    if synced is True:
        return Check("clock", OK, f"{shown}, synchronised by the system (NTP)")
    state = "not synchronised" if synced is False else "sync state unknown"
    return Check(
        "clock",
        WARN,
        f"{shown} looks plausible, {state}; not compared with a time server (none reachable offline)",
        "enable time sync (e.g. `timedatectl set-ntp true`): standard/svix signatures allow ±300 s of skew",
    )


def _ntp_synchronised() -> bool | None:
    if Path("/run/systemd/timesync/synchronized").exists():
        return True
    timedatectl = shutil.which("timedatectl")
    if timedatectl is None:
        return None
    try:
        done = subprocess.run(
            [timedatectl, "show", "-p", "NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=3,
            check=False,
            env={**os.environ, "LC_ALL": "C"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    answer = done.stdout.strip()
    return {"yes": True, "no": False}.get(answer)
