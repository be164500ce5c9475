"""Starting the processes a benchmark needs (servers, the listener, the load generator) and reading them."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
READY_TIMEOUT_S = 30


def _wait_for_line(stream: IO[str], pattern: str, proc: subprocess.Popen[str]) -> re.Match[str]:
    """Read lines until one matches (the process's own readiness line); fail if it exits first."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            raise RuntimeError(f"{proc.args!r} exited before it was ready:\n{''.join(seen)}")
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match
    raise RuntimeError(f"{proc.args!r} not ready after {READY_TIMEOUT_S} s:\n{''.join(seen)}")


def _drain(stream: IO[str] | None) -> None:
    """Keep reading a pipe so the child never blocks on a full pipe (output to a pipe, as measured)."""
    if stream is None:
        return

    def pump() -> None:
        for _ in stream:
            pass

    threading.Thread(target=pump, daemon=True).start()


@contextmanager
def bare_server() -> Iterator[str]:
    """The baseline aiohttp handler in its own process; yields its base URL."""
    proc = subprocess.Popen([sys.executable, str(HERE / "bare_server.py")], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = _wait_for_line(proc.stdout, r"listening on (\S+)", proc).group(1)
        _drain(proc.stdout)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def listener(args: list[str]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`whatsable listen --no-tunnel --port 0 ARGS` with stdout to a drained pipe; yields its webhook URL."""
    argv = [sys.executable, "-m", "whatsable_cli", "listen", "--no-tunnel", "--port", "0", *args]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        url = _wait_for_line(proc.stderr, r"Webhook URL\s+(http\S+)", proc).group(1)
        _drain(proc.stdout)
        _drain(proc.stderr)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def load(url: str, bodies: Path, *, requests: int, concurrency: int) -> dict[str, Any]:
    """Run the load generator in its own process and return its JSON result."""
    argv = [sys.executable, str(HERE / "loadgen.py"), url, str(bodies)]
    argv += ["--requests", str(requests), "--concurrency", str(concurrency)]
    done = subprocess.run(argv, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def listen_recorded_lines(recording: Path) -> int:
    """How many request lines a listener recorded (forward-result lines are not requests)."""
    count = 0
    with recording.open("rb") as handle:
        for line in handle:
            count += json.loads(line).get("type", "request") == "request"
    return count
