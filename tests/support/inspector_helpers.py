"""Helpers for the inspector tests: a history with events in it, the inspector and a listener running, a browser."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.listen_helpers import (
    CapturingObserver,
    Listener,
    TargetApp,
    fixture_bytes,
    listen_settings,
    running_listener,
)
from whatsable_cli.delivery.results import DeliveryResult
from whatsable_cli.inspector.model import InspectorSettings
from whatsable_cli.inspector.security import TOKEN_HEADER
from whatsable_cli.inspector.server import RunningInspector, start_inspector
from whatsable_cli.listen.forwarder import Routing
from whatsable_cli.recording.history import History, RunRecorder
from whatsable_cli.recording.lines import ForwardRecord, RecordedRequest, encode_body
from whatsable_cli.webhooks.events import SignatureCheck, parse_body

CHROMIUM = os.environ.get("WHATSABLE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN_META = re.compile(r'<meta name="whatsable-token" content="([^"]+)">')
SIGNATURE = "6ecb1f0b2a3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6"


def need_browser() -> None:
    """Skip without Playwright or Chromium; under CI=true, fail instead (the browser tests must run there)."""
    why = None
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        why = "Playwright for Python is not installed (pip install playwright)"
    if why is None and not Path(CHROMIUM).exists():
        why = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if why is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests cannot run: {why}", pytrace=False)
    pytest.skip(why)


@asynccontextmanager
async def browser_page(*extra_args: str) -> AsyncIterator[Any]:
    """A page of a fresh headless Chromium (Debian's); errors in the page's script fail the test."""
    need_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 860})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            yield page
            assert not errors, f"the page's script failed: {errors}"
        finally:
            await browser.close()


def request(
    request_id: str,
    fixture: str,
    *,
    signature: SignatureCheck | None = None,
    headers: list[tuple[str, str]] | None = None,
    at: str = "2026-11-25T12:00:00.000Z",
    body: bytes | None = None,
) -> RecordedRequest:
    raw = body if body is not None else fixture_bytes(fixture)
    parsed_type = fixture.split("/")[0] if not fixture.startswith("flat/") else fixture.split("/")[1]
    return RecordedRequest(
        id=request_id,
        received_at=at,
        method="POST",
        path="/webhook",
        query="",
        headers=headers
        or [("Host", "127.0.0.1:4242"), ("Content-Type", "application/json"), ("X-Webhook-Signature", SIGNATURE)],
        body=encode_body(raw)[0],
        body_encoding=encode_body(raw)[1],
        body_size=len(raw),
        event_type=parsed_type,
        signature=signature or SignatureCheck("verified", "whatsable-hmac"),
        response_status=200,
    )


def forward(
    request_id: str, url: str, status: int | None, latency: float, answer: str = '{"ok":true}'
) -> ForwardRecord:
    error = None if status is not None else "connection refused by 127.0.0.1:9"
    result = DeliveryResult(
        url=url,
        status=status,
        latency_ms=latency,
        response_snippet=answer if status else None,
        error=error,
        error_code=None if status else "refused",
    )
    return ForwardRecord(request_id, result, 1, "2026-11-25T12:00:01.000Z")


def record(path: Path, *items: tuple[RecordedRequest, list[ForwardRecord]]) -> int:
    """Write requests (each with its forwards) as one listen run of the history; returns the run's id."""
    with History.open(path) as history:
        recorder = RunRecorder(history)
        for recorded, forwards in items:
            recorder.commit([(recorded, parse_body(recorded.body_bytes).status)], forwards, None)
        assert recorder.run_id is not None
        return recorder.run_id


@asynccontextmanager
async def running_inspector(settings: InspectorSettings, token: str | None = None) -> AsyncIterator[RunningInspector]:
    inspector = await start_inspector(settings, token=token)
    try:
        yield inspector
    finally:
        await inspector.stop()


def inspector_settings(history: Path, **changes: Any) -> InspectorSettings:
    return InspectorSettings(history_path=history, port=0, **changes)


async def page_token(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url) as response:
        match = TOKEN_META.search(await response.text())
    assert match is not None
    return match.group(1)


def action_headers(url: str, token: str) -> dict[str, str]:
    """What the page itself sends with a POST: its token and its own origin."""
    return {TOKEN_HEADER: token, "Origin": url.rstrip("/")}


@dataclass
class LiveSetup:
    """A real listener writing the history, forwarding to a real app, and the inspector reading that history."""

    listener: Listener
    target: TargetApp
    inspector: RunningInspector
    history: Path

    async def send(self, body: bytes, headers: dict[str, str] | None = None) -> str:
        """POST to the listener; the id it recorded the request under, once it has reported the event."""
        observer = self.listener.observer
        before = len(observer.events)
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                self.listener.url, data=body, headers=headers or {"Content-Type": "application/json"}
            ) as response,
        ):
            assert response.status == 200, await response.text()
        await observer.wait_until(lambda: len(observer.events) > before)
        return observer.events[before].request.id


@asynccontextmanager
async def live_setup(
    tmp_path: Path, *, answer: bytes = b'{"handled":"yes"}', **inspector: Any
) -> AsyncIterator[LiveSetup]:
    history = tmp_path / "history.sqlite3"
    target = await TargetApp(answer=answer).start()
    settings = listen_settings(
        tmp_path, record_path=None, history_path=history, routing=Routing((target.url("/hooks"),), ())
    )
    try:
        async with (
            running_listener(settings, CapturingObserver()) as listener,
            running_inspector(inspector_settings(history, targets=(target.url("/hooks"),), **inspector)) as running,
        ):
            yield LiveSetup(listener, target, running, history)
    finally:
        await target.stop()
