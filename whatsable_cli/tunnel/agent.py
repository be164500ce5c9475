"""The ngrok agent on this machine: which binary, its version and the authtoken it will use (no pyngrok)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from whatsable_cli.errors import TunnelError

# pyngrok 9 talks to the agent through /api/endpoints, which exists only from agent 3.30.0 on.
MIN_AGENT_VERSION = (3, 30, 0)
DOWNLOAD_PAGE = "https://ngrok.com/download"
AUTHTOKEN_PAGE = "https://dashboard.ngrok.com/get-started/your-authtoken"
_VERSION = re.compile(r"version\s+v?(\d+)\.(\d+)\.(\d+)")
# pyngrok installs a Python console script called `ngrok` that downloads and wraps the real agent.
_PYNGROK_SHIM = re.compile(rb"^\s*(from|import)\s+pyngrok\b", re.MULTILINE)


@dataclass(frozen=True)
class AgentBinary:
    """Where the agent binary is and how it was chosen (shown by `doctor` and in errors)."""

    path: Path
    source: str  # "--ngrok-path", "PYNGROK_NGROK_PATH", "PATH" or "default location"

    @property
    def exists(self) -> bool:
        return self.path.is_file()


@dataclass(frozen=True)
class Authtoken:
    """The authtoken the agent will use and where it comes from; the value is never shown."""

    source: str
    value: str = field(repr=False)


def default_ngrok_dir() -> Path:
    """pyngrok's (and ngrok's) default folder, computed now: pyngrok computes it once at import time."""
    home = Path.home()
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "ngrok"
    if sys.platform == "win32":
        return home / "AppData" / "Local" / "ngrok"
    return Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "ngrok"


def default_config_path() -> Path:
    return default_ngrok_dir() / "ngrok.yml"


def _binary_name() -> str:
    return "ngrok.exe" if sys.platform == "win32" else "ngrok"


def is_pyngrok_shim(path: Path) -> bool:
    """True for pyngrok's own `ngrok` console script (a Python wrapper, not the agent)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return head.startswith(b"#!") and _PYNGROK_SHIM.search(head) is not None


def _agents_on_path() -> list[Path]:
    found = []
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(folder or ".") / _binary_name()
        if candidate.is_file() and os.access(candidate, os.X_OK):
            found.append(candidate)
    return found


def find_agent(explicit: str | None = None) -> AgentBinary:
    """--ngrok-path, then PYNGROK_NGROK_PATH, then a real `ngrok` on PATH, then pyngrok's default location."""
    if explicit:
        return AgentBinary(Path(explicit).expanduser(), "--ngrok-path")
    from_env = os.environ.get("PYNGROK_NGROK_PATH")
    if from_env:
        return AgentBinary(Path(from_env).expanduser(), "PYNGROK_NGROK_PATH")
    for candidate in _agents_on_path():
        if not is_pyngrok_shim(candidate):
            return AgentBinary(candidate, "PATH")
    return AgentBinary(default_ngrok_dir() / _binary_name(), "default location")


def missing_binary_error(agent: AgentBinary) -> TunnelError:
    """No agent where we looked (and no download: declined, or a path the user named)."""
    if agent.source == "default location":
        hint = (
            f"let `whatsable listen` download it (it asks first, unless --yes), or install ngrok ({DOWNLOAD_PAGE})"
            " and put it on PATH; or use --no-tunnel / --public-url URL"
        )
    else:
        hint = f"install ngrok ({DOWNLOAD_PAGE}) and fix {agent.source}; or use --no-tunnel / --public-url URL"
    return TunnelError(
        f"ngrok agent not found at {agent.path} (from {agent.source})", hint=hint, code="ngrok_not_found"
    )


def ensure_agent(explicit: str | None, *, ask: Callable[[Path], bool], install: Callable[[Path], None]) -> AgentBinary:
    """The agent, downloaded first when none is installed and `ask(path)` agrees.

    Only into the default location: a path the user named (--ngrok-path, PYNGROK_NGROK_PATH, the config file)
    that holds nothing is more likely a typo than a wish to download there.
    """
    agent = find_agent(explicit)
    if agent.exists:
        return agent
    if agent.source != "default location" or not ask(agent.path):
        raise missing_binary_error(agent)
    install(agent.path)
    if not agent.exists:
        raise TunnelError(
            f"the ngrok agent download left nothing at {agent.path}",
            hint=f"install ngrok yourself ({DOWNLOAD_PAGE}) and pass --ngrok-path; or use --no-tunnel",
            code="ngrok_download_failed",
        )
    return agent


def agent_version(agent: AgentBinary, timeout: float = 10.0) -> tuple[int, int, int]:
    """Run `ngrok --version` and parse `ngrok version 3.x.y`."""
    try:
        done = subprocess.run(
            [str(agent.path), "--version"], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise TunnelError(
            f"`{agent.path} --version` did not answer within {timeout:g} s",
            hint="check that this is the ngrok agent, or pass another with --ngrok-path",
            code="ngrok_version_unknown",
        ) from None
    except OSError as exc:
        raise TunnelError(
            f"cannot run the ngrok agent {agent.path}: {exc.strerror or exc}",
            hint="make it executable (chmod +x), or pass another with --ngrok-path",
            code="ngrok_not_runnable",
        ) from None
    match = _VERSION.search(done.stdout)
    if match is None:
        said = (done.stdout or done.stderr).strip().splitlines()[:1]
        raise TunnelError(
            f"{agent.path} does not look like the ngrok agent (`--version` said: {said[0] if said else 'nothing'})",
            hint="pass the real agent with --ngrok-path",
            code="ngrok_version_unknown",
        )
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def version_text(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)


def require_recent(version: tuple[int, int, int], agent: AgentBinary) -> None:
    """An agent older than 3.30 has no /api/endpoints: pyngrok 9 would hang on it, so refuse clearly."""
    if version < MIN_AGENT_VERSION:
        raise TunnelError(
            f"ngrok agent {version_text(version)} at {agent.path} is too old (need {version_text(MIN_AGENT_VERSION)}"
            " or newer)",
            hint=f"run `{agent.path} update`, or install a current agent from {DOWNLOAD_PAGE}",
            code="ngrok_too_old",
        )


def find_authtoken(config_path: Path) -> Authtoken | None:
    """NGROK_AUTHTOKEN, else `authtoken:` in ngrok's config (top level in v2, under `agent:` in v3)."""
    from_env = os.environ.get("NGROK_AUTHTOKEN", "").strip()
    if from_env:
        return Authtoken("NGROK_AUTHTOKEN", from_env)
    try:
        text = config_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        key, _, value = line.strip().partition(":")
        value = value.split(" #", 1)[0].strip().strip("'\"")
        if key == "authtoken" and value:
            return Authtoken(f"ngrok config {config_path}", value)
    return None


def missing_authtoken_error(config_path: Path) -> TunnelError:
    return TunnelError(
        f"no ngrok authtoken: NGROK_AUTHTOKEN is not set and {config_path} has none",
        hint=f"get yours at {AUTHTOKEN_PAGE}, then `export NGROK_AUTHTOKEN=<token>` or "
        "`ngrok config add-authtoken <token>`; or run with --no-tunnel",
        code="ngrok_no_authtoken",
    )
