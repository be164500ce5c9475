"""Helpers for the listen tests: a listener in-process, target apps, and a listener as a subprocess."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import select
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from aiohttp import web

from whatsable_cli.delivery.results import DeliveryResult
from whatsable_cli.listen.model import EventReport, ListenInfo, ListenSettings, NullObserver
from whatsable_cli.listen.service import serve
from whatsable_cli.listen.stats import RunSummary
from whatsable_cli.recording.jsonl import iter_entries
from whatsable_cli.recording.lines import ForwardRecord, RecordedRequest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
DEADLINE = 10.0


def listen_settings(tmp_path: Path, **changes: Any) -> ListenSettings:
    """A listener on a free port, recording to tmp_path/rec.jsonl; keyword arguments change any other setting."""
    return dataclasses.replace(ListenSettings(port=0, record_path=tmp_path / "rec.jsonl"), **changes)


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


class Waitable:
    """Something tests wait on by condition, with a deadline, never by sleeping."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def changed(self) -> None:
        self._changed.set()

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = DEADLINE) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate():
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError("condition not met before the deadline")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                continue


class CapturingObserver(NullObserver, Waitable):
    """Keeps everything the service reports."""

    def __init__(self) -> None:
        Waitable.__init__(self)
        self.info: ListenInfo | None = None
        self.events: list[EventReport] = []
        self.received_reports: list[EventReport] = []
        self.redeliveries: list[tuple[str, DeliveryResult, int]] = []
        self.warnings: list[str] = []
        self.summary: RunSummary | None = None

    def ready(self, info: ListenInfo) -> None:
        self.info = info
        self.changed()

    def received(self, report: EventReport) -> None:
        self.received_reports.append(report)
        self.changed()

    def event(self, report: EventReport) -> None:
        self.events.append(report)
        self.changed()

    def redelivered(self, request_id: str, result: DeliveryResult, attempt: int) -> None:
        self.redeliveries.append((request_id, result, attempt))
        self.changed()

    def warning(self, message: str) -> None:
        self.warnings.append(message)
        self.changed()

    def finished(self, summary: RunSummary) -> None:
        self.summary = summary
        self.changed()


@dataclass
class Listener:
    info: ListenInfo
    observer: CapturingObserver
    settings: ListenSettings
    stop: asyncio.Event = field(default_factory=asyncio.Event)  # set it to begin a graceful stop
    task: asyncio.Task[RunSummary] | None = None  # the serve() call; done once the listener has stopped

    @property
    def url(self) -> str:
        return self.info.local_webhook_url

    def base(self, path: str) -> str:
        return self.info.local_base + path

    def recording(self) -> tuple[list[RecordedRequest], list[ForwardRecord]]:
        assert self.settings.record_path is not None
        entries = list(iter_entries(self.settings.record_path, strict=True))
        requests = [e for e in entries if isinstance(e, RecordedRequest)]
        forwards = [e for e in entries if isinstance(e, ForwardRecord)]
        return requests, forwards


@asynccontextmanager
async def running_listener(
    settings: ListenSettings, observer: CapturingObserver | None = None
) -> AsyncIterator[Listener]:
    """Serve in this event loop until the block ends; the summary is on `observer.summary` afterwards."""
    observer = observer or CapturingObserver()
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, observer, stop))
    while observer.info is None:
        ready = asyncio.create_task(observer.wait_until(lambda: observer.info is not None))
        done, _ = await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            ready.cancel()
            task.result()  # raises what serve raised
    try:
        yield Listener(observer.info, observer, settings, stop, task)
    finally:
        stop.set()
        await task


@dataclass
class Received:
    path: str
    body: bytes
    headers: list[tuple[str, str]]


@dataclass
class TargetApp(Waitable):
    """A real aiohttp app standing in for the developer's app; with `hold`, it answers once that is set."""

    status: int = 200
    answer: bytes = b'{"handled":true}'
    hold: asyncio.Event | None = None  # the app sits on a breakpoint until the test sets it
    received: list[Received] = field(default_factory=list)
    runner: web.AppRunner | None = None
    port: int = 0
    scheme: str = "http"

    def __post_init__(self) -> None:
        Waitable.__init__(self)

    async def _handle(self, request: web.Request) -> web.Response:
        self.received.append(Received(request.path, await request.read(), list(request.headers.items())))
        self.changed()
        if self.hold is not None:
            await self.hold.wait()
        return web.Response(status=self.status, body=self.answer, content_type="application/json")

    async def start(self, port: int = 0, ssl_context: ssl.SSLContext | None = None) -> TargetApp:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", port, ssl_context=ssl_context)
        await site.start()
        self.port = self.runner.addresses[0][1]
        self.scheme = "https" if ssl_context else "http"
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    def url(self, path: str = "/webhook") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    head: bytes  # the status line and headers as sent

    def json(self) -> Any:
        return json.loads(self.body)


class RawClient:
    """One raw loopback connection to a listener: bytes out, answers parsed by hand in."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        return cls(*await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), DEADLINE))

    async def send(self, *parts: bytes) -> None:
        for part in parts:  # each part its own write (TCP_NODELAY: its own segment)
            self.writer.write(part)
            await self.writer.drain()

    async def answer(self, *, head_only: bool = False) -> Answer:
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), DEADLINE)
        status_line, *lines = head[:-4].decode("latin-1").split("\r\n")
        headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
        length = 0 if head_only else int(headers.get("content-length", "0"))
        body = await asyncio.wait_for(self.reader.readexactly(length), DEADLINE)
        return Answer(int(status_line.split()[1]), headers, body, head)

    async def closed(self) -> bool:
        """True once the listener has closed the connection (EOF or reset) with nothing more sent."""
        try:
            rest = await asyncio.wait_for(self.reader.read(), DEADLINE)
        except ConnectionResetError:
            return True
        return rest == b""

    def close(self) -> None:
        self.writer.close()


def http_request(
    method: str, path: str, *headers: str, body: bytes | None = None, version: str = "1.1", length: bool = True
) -> bytes:
    """A request as bytes; with a body, its Content-Length (unless `length` is False)."""
    lines = [f"{method} {path} HTTP/{version}", "Host: 127.0.0.1", *headers]
    if body is not None and length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def free_port() -> int:
    """A port nobody listens on right now (for a target that is down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the listener as a subprocess -------------------------------------------------------------------------

READY = re.compile(r"Webhook URL\s+(http://\S+)")


def read_line_matching(stream: IO[bytes], pattern: re.Pattern[str], timeout: float = 20.0) -> re.Match[str]:
    """Read lines until one matches, with a deadline (select, so a silent process cannot hang the test).

    The stream must be unbuffered (bufsize=0), or select would miss lines already in Python's buffer.
    """
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        readable, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
        if not readable:
            break
        line = stream.readline().decode("utf-8", errors="replace")
        if not line:
            break
        seen.append(line)
        match = pattern.search(line)
        if match:
            return match
    raise AssertionError(f"no line matching {pattern.pattern!r}; got: {''.join(seen)!r}")


def spawn_listener(
    *args: str,
    stdout: IO[Any],
    env: dict[str, str] | None = None,
    tunnel: bool = False,
    ready: re.Pattern[str] = READY,
    preexec_fn: Callable[[], None] | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """`whatsable listen --no-tunnel --port 0 ...` as a subprocess; returns it and the URL `ready` matched.

    With `tunnel=True`, no --no-tunnel: pass --ngrok-path and wait for the "Public URL" line instead.
    `preexec_fn` runs in the child before the command (to set resource limits, say).
    """
    base = [] if tunnel else ["--no-tunnel"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "whatsable_cli", "listen", *base, "--port", "0", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        bufsize=0,
        env={**os.environ, **(env or {})},
        preexec_fn=preexec_fn,
    )
    assert proc.stderr is not None
    try:
        url = read_line_matching(proc.stderr, ready).group(1)
    except AssertionError:
        proc.kill()
        proc.wait()
        raise
    return proc, url


def port_of(url: str) -> int:
    """The port of a listener's URL (http://127.0.0.1:PORT/path)."""
    return int(url.rsplit(":", 1)[1].split("/")[0])
