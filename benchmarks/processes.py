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


class _Watch:
    """Reads a child's pipe to its end on a thread (so the child never blocks on a full pipe: output to
    a pipe, as measured) and notes the first line that matches a readiness pattern."""

    def __init__(self, stream: IO[str] | None, pattern: str | None = None) -> None:
        self._pattern = re.compile(pattern) if pattern else None
        self._done = threading.Event()
        self.match: re.Match[str] | None = None
        self.head: list[str] = []  # the first lines, for the error when the process never got ready
        if stream is None:
            self._done.set()
            return
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            if self._pattern is None or self.match is not None:
                continue
            if len(self.head) < 200:
                self.head.append(line)
            self.match = self._pattern.search(line)
            if self.match:
                self._done.set()
        self._done.set()  # end of the pipe: the process is gone

    def ready(self, proc: subprocess.Popen[str], timeout: float = READY_TIMEOUT_S) -> re.Match[str]:
        """The readiness line's match; fails if the process exits first or stays silent too long."""
        if not self._done.wait(timeout):
            raise RuntimeError(f"{proc.args!r} not ready after {timeout} s:\n{''.join(self.head)}")
        if self.match is None:
            raise RuntimeError(f"{proc.args!r} exited before it was ready:\n{''.join(self.head)}")
        return self.match


def stop(proc: subprocess.Popen[str]) -> None:
    """Ctrl-C (each server measured stops gracefully on SIGINT and flushes its recording), then kill."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def server(argv: list[str], ready: str, *, env: dict[str, str] | None = None) -> Iterator[re.Match[str]]:
    """A server in its own process, stdout and stderr together to a drained pipe; yields the match of
    its readiness line (pattern `ready`)."""
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", env=env
    )
    try:
        yield _Watch(proc.stdout, ready).ready(proc)
    finally:
        stop(proc)


@contextmanager
def bare_server() -> Iterator[str]:
    """The baseline aiohttp handler in its own process; yields its base URL."""
    with server([sys.executable, str(HERE / "bare_server.py")], r"listening on (\S+)") as ready:
        yield ready.group(1)


@contextmanager
def listener(args: list[str]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`whatsable listen --no-tunnel --port 0 ARGS` with stdout to a drained pipe; yields its webhook URL."""
    argv = [sys.executable, "-m", "whatsable_cli", "listen", "--no-tunnel", "--port", "0", *args]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace")
    try:
        _Watch(proc.stdout)
        url = _Watch(proc.stderr, r"Webhook URL\s+(http\S+)").ready(proc).group(1)
        yield url, proc
    finally:
        stop(proc)


def load(url: str, bodies: Path, *, requests: int, concurrency: int, timeout: float = 120) -> dict[str, Any]:
    """Run the load generator in its own process and return its JSON result (bounded by `timeout`)."""
    argv = [sys.executable, str(HERE / "loadgen.py"), url, str(bodies)]
    argv += ["--requests", str(requests), "--concurrency", str(concurrency)]
    done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"the load generator against {url} exited {done.returncode}: {done.stderr[-1500:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def interleaved(
    urls: dict[str, str], bodies: Path, *, runs: int, requests: int, warmup: int, concurrency: int
) -> dict[str, list[dict[str, Any]]]:
    """Warm each server up, then load them in turn, `runs` rounds: drift on a busy machine hits all alike."""
    for url in urls.values():
        load(url, bodies, requests=warmup, concurrency=concurrency)
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in urls}
    for _ in range(runs):
        for name, url in urls.items():
            results[name].append(load(url, bodies, requests=requests, concurrency=concurrency))
    return results


def timed(argv: list[str], *, timeout: float = 120, env: dict[str, str] | None = None) -> tuple[float, bytes]:
    """Wall seconds and stdout of one whole process, its output read from a pipe; fails on a non-zero exit."""
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False, env=env)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).decode(errors="replace")[-2000:]
        raise RuntimeError(f"{argv!r} exited {done.returncode}: {tail}")
    return seconds, done.stdout


def listen_recorded_lines(recording: Path) -> int:
    """How many request lines a listener recorded (forward-result lines are not requests)."""
    count = 0
    with recording.open("rb") as handle:
        for line in handle:
            count += json.loads(line).get("type", "request") == "request"
    return count
