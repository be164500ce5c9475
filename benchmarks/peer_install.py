"""Installing the peers the benchmarks compare against (Express via npm, mitmproxy via pip) into a cache.

Each peer goes into its own folder under the benchmarks' cache (`benchmarks/.cache/`, or
`$WHATSABLE_BENCH_CACHE`), named after the exact version pinned here, so a second run reuses it and a
new pin installs beside the old one. A folder counts as installed only once its marker file is written,
last: an install cut short is removed and done again. `WHATSABLE_BENCH_NO_INSTALL=1` uses what is
cached and skips a peer that is not, without touching a registry.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXPRESS_VERSION = "5.3.0"
MITMPROXY_VERSION = "11.0.2"  # the newest mitmproxy that still runs on Python 3.11
INSTALL_TIMEOUT_S = 600
MARKER = ".installed"
DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache"


class PeerUnavailable(Exception):
    """The peer cannot be measured here; the message says why (the row is skipped with it)."""


@dataclass(frozen=True)
class Express:
    node: str
    node_modules: Path
    version: str


@dataclass(frozen=True)
class Mitmproxy:
    python: Path
    mitmdump: Path
    confdir: Path
    version: str


def log(message: str) -> None:
    """Progress for the person running the benchmarks (stderr: stdout is the table)."""
    print(message, file=sys.stderr, flush=True)


def skipped(metric: str, unit: str, target: str, reason: str) -> dict[str, Any]:
    """The result of a peer row that could not be measured here: no figures, the reason, not a miss."""
    log(f"skipping: {reason}")
    return {
        "metric": metric,
        "unit": unit,
        "whatsable": None,
        "baseline": None,
        "ratio": None,
        "target": target,
        "met": None,
        "skipped": reason,
    }


def cache_dir(environ: dict[str, str] | None = None) -> Path:
    """Where the peers are installed: $WHATSABLE_BENCH_CACHE, else benchmarks/.cache."""
    env = os.environ if environ is None else environ
    return Path(env["WHATSABLE_BENCH_CACHE"]) if env.get("WHATSABLE_BENCH_CACHE") else DEFAULT_CACHE


def installs_allowed(environ: dict[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get("WHATSABLE_BENCH_NO_INSTALL", "") in ("", "0")


def express_folder(cache: Path) -> Path:
    return cache / f"express-{EXPRESS_VERSION}"


def mitmproxy_folder(cache: Path) -> Path:
    return cache / f"mitmproxy-{MITMPROXY_VERSION}-py{sys.version_info.major}.{sys.version_info.minor}"


def _tail(text: str, lines: int = 3) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:] if line.strip())


def _run(argv: list[str], what: str) -> None:
    """Run one install step, bounded; a failure becomes PeerUnavailable with the tool's last words."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise PeerUnavailable(f"{what}: no answer in {INSTALL_TIMEOUT_S} s") from exc
    except OSError as exc:
        raise PeerUnavailable(f"{what}: {exc}") from exc
    if done.returncode != 0:
        raise PeerUnavailable(f"{what} exited {done.returncode}: {_tail(done.stderr or done.stdout)}")


@contextmanager
def _locked(cache: Path) -> Iterator[None]:
    """One installer at a time per cache (two benchmark runs started together share the result)."""
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure(folder: Path, install: Callable[[Path], None], what: str) -> tuple[Path, bool]:
    """The installed folder, installing it first if its marker is missing; (folder, installed_now)."""
    if (folder / MARKER).is_file():
        return folder, False
    if not installs_allowed():
        raise PeerUnavailable(f"{what} is not in the cache ({folder}) and WHATSABLE_BENCH_NO_INSTALL is set")
    with _locked(folder.parent):
        if (folder / MARKER).is_file():  # another run installed it while this one waited
            return folder, False
        shutil.rmtree(folder, ignore_errors=True)  # what an install cut short left
        folder.mkdir(parents=True)
        try:
            install(folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        (folder / MARKER).write_text(what + "\n")
    return folder, True


def express(log: Callable[[str], None]) -> Express:
    """Node and a cached Express (`npm install --prefix FOLDER express@VERSION`)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing = " and ".join(name for name, path in (("node", node), ("npm", npm)) if path is None)
        raise PeerUnavailable(f"{missing} not found on PATH: install Node.js to measure the Express handler")
    spec = f"express@{EXPRESS_VERSION}"
    folder = express_folder(cache_dir())
    if not (folder / MARKER).is_file() and installs_allowed():
        log(f"installing {spec} with npm into {folder} (once; cached for later runs)")

    def install(into: Path) -> None:
        _run(
            [npm, "install", "--prefix", str(into), "--no-audit", "--no-fund", "--ignore-scripts", spec], "npm install"
        )

    folder, _ = ensure(folder, install, spec)
    package = json.loads((folder / "node_modules" / "express" / "package.json").read_text())
    return Express(node=node, node_modules=folder / "node_modules", version=str(package["version"]))


def mitmproxy(log: Callable[[str], None]) -> Mitmproxy:
    """mitmproxy in its own cached virtual environment (`python -m venv`, `pip install mitmproxy==VERSION`)."""
    spec = f"mitmproxy=={MITMPROXY_VERSION}"
    folder = mitmproxy_folder(cache_dir())
    if not (folder / MARKER).is_file() and installs_allowed():
        log(f"installing {spec} into a virtual environment at {folder} (once; cached for later runs)")

    def install(into: Path) -> None:
        # From inside a virtual environment, venv builds the new one on the base interpreter.
        _run([sys.executable, "-m", "venv", str(into)], "python -m venv")
        pip = [str(into / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q", spec]
        _run(pip, "pip install")

    folder, _ = ensure(folder, install, spec)
    confdir = folder / "confdir"  # mitmproxy writes its CA here, not in the user's home
    confdir.mkdir(exist_ok=True)
    return Mitmproxy(
        python=folder / "bin" / "python",
        mitmdump=folder / "bin" / "mitmdump",
        confdir=confdir,
        version=MITMPROXY_VERSION,
    )
