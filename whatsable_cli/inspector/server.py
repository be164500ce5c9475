"""Serving the inspector: on this event loop until stopped (`whatsable inspect`), or in a thread beside `listen`."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from aiohttp import web

from whatsable_cli.errors import BadInputError
from whatsable_cli.inspector.app import create_app
from whatsable_cli.inspector.model import InspectorSettings, base_url, loopback_host

SHUTDOWN_GRACE_S = 2.0
THREAD_START_TIMEOUT_S = 30.0


@dataclass
class RunningInspector:
    """An inspector that is serving: its URL, and the runner that stops it."""

    url: str
    port: int
    runner: web.AppRunner

    async def stop(self) -> None:
        await self.runner.cleanup()


def port_in_use_error(host: str, port: int, exc: OSError) -> BadInputError:
    return BadInputError(
        f"the inspector cannot listen on {host}:{port}: {exc.strerror or exc}",
        hint="pick another port with --inspect-port (inspect: --port), or 0 for a free one",
        code="inspector_port_in_use",
    )


async def start_inspector(settings: InspectorSettings, *, token: str | None = None) -> RunningInspector:
    """Serve on a loopback address; raises BadInputError when the host is not loopback or the port is taken."""
    host = loopback_host(settings.host)
    runner = web.AppRunner(create_app(settings, token=token), access_log=None, shutdown_timeout=SHUTDOWN_GRACE_S)
    await runner.setup()
    site = web.TCPSite(runner, host, settings.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise port_in_use_error(host, settings.port, exc) from None
    port = int(runner.addresses[0][1])
    return RunningInspector(base_url(host, port), port, runner)


async def serve_inspector(settings: InspectorSettings, ready: Callable[[str], None], stop: asyncio.Event) -> None:
    """Serve until `stop` is set, telling `ready` the URL once it is listening."""
    running = await start_inspector(settings)
    try:
        ready(running.url)
        await stop.wait()
    finally:
        await running.stop()


def run_inspector(settings: InspectorSettings, ready: Callable[[str], None]) -> None:
    """`whatsable inspect`: serve in a fresh event loop until Ctrl-C or SIGTERM (both a normal stop)."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await serve_inspector(settings, ready, stop)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    asyncio.run(main())


class InspectorThread:
    """The inspector in a thread of its own, with its own event loop: `listen` serves it beside the listener
    without the listener knowing (it reads what the listener writes to the history)."""

    def __init__(self, settings: InspectorSettings) -> None:
        self.settings = settings
        self.url: str | None = None
        self._started: Future[str] = Future()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="whatsable-inspector", daemon=True)

    def start(self) -> str:
        """Start serving and return the URL; raises what starting raised (BadInputError: port in use)."""
        self._thread.start()
        self.url = self._started.result(THREAD_START_TIMEOUT_S)
        return self.url

    def stop(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nothing left to stop
                loop.call_soon_threadsafe(stop.set)
        if self._thread.is_alive():
            self._thread.join(SHUTDOWN_GRACE_S + 5.0)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to start(); a failure after it is the thread's alone
            if not self._started.done():
                self._started.set_exception(exc)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        await serve_inspector(self.settings, self._started.set_result, self._stop)
