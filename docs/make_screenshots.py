"""The README's terminal pictures, made by the real renderers on real events: docs/listen.svg and docs/send-test.svg.

A real listener (`whatsable listen --no-tunnel -f 3000`, a secret from WHATSABLE_SECRET) forwards to a small app
on port 3000; the banner's own "Try it" command (a real `send-test` run) sends it signed events. rich records
what each console printed and saves it as SVG.

    python docs/make_screenshots.py

Nothing outside this machine is reached; the history lives in a temporary home folder.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import socket
import tempfile
from pathlib import Path

from aiohttp import web
from rich.console import Console
from rich.text import Text

DOCS = Path(__file__).resolve().parent
WIDTH = 112
SECRET = "4f9c2b7e1d0a8c6b5e3f2a1d9c8b7a6e5f4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b"  # noqa: S105 (a demo's, nothing real)


def recording_console() -> Console:
    return Console(
        record=True, width=WIDTH, force_terminal=True, color_system="truecolor", highlight=False, file=io.StringIO()
    )


def free(port: int) -> int:
    """`port` when nothing listens there (the pictures read best with the usual ports), else any free one."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return 0
    return port


def prompt(console: Console, command: str) -> None:
    console.print(Text.assemble(("$ ", "bold green"), (command, "bold")))


async def start_app() -> tuple[web.AppRunner, int]:
    """The developer's app: answers every webhook 200."""

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/webhook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", free(3000))
    await site.start()
    return runner, runner.addresses[0][1]


async def webhook_url(view: Console, listening: asyncio.Task[object]) -> str:
    """The listener's URL, as its banner printed it (with --port 0 nothing else tells)."""
    for _ in range(400):
        found = re.search(r"Webhook URL\s+(http://\S+)", view.export_text(clear=False))
        if found:
            return found.group(1)
        if listening.done():
            listening.result()  # raises what the listener raised
        await asyncio.sleep(0.05)
    raise SystemExit("the listener never printed its banner")


class Quiet:
    """send-test's progress observer: nothing to show in a picture."""

    def started(self, total: int, notes: list[str]) -> None: ...

    def checked(self, outcome: object) -> None: ...


async def main() -> None:
    from whatsable_cli.commands.listen_settings import ListenOptions, listen_settings
    from whatsable_cli.config import DEFAULT_PORT, Config
    from whatsable_cli.listen.service import serve
    from whatsable_cli.render.listen import ListenRenderer, Origin
    from whatsable_cli.render.send_test import print_plan_notes, render_report
    from whatsable_cli.send_test.plan import SendTestSettings
    from whatsable_cli.send_test.service import run_send_test
    from whatsable_cli.send_test.verdicts import Criteria

    app, app_port = await start_app()
    target = "3000" if app_port == 3000 else f"localhost:{app_port}"
    options = ListenOptions(port=free(DEFAULT_PORT), forward_to=[target], secret=SECRET, no_tunnel=True)
    listen_view, send_test_view = recording_console(), recording_console()
    prompt(listen_view, f"whatsable listen --no-tunnel -f {target}")
    renderer = ListenRenderer("pretty", listen_view, listen_view, origin=Origin(None, "WHATSABLE_SECRET"))
    stop = asyncio.Event()
    listening = asyncio.create_task(serve(listen_settings(Config(), options), renderer, stop))
    url = await webhook_url(listen_view, listening)

    command = f'whatsable send-test {url} --secret "$WHATSABLE_SECRET" --no-security-checks'
    shown = "".join(listen_view.export_text(clear=False).split())  # the banner may wrap it at this width
    assert "".join(command.split()) in shown, "not the banner's own Try it command"
    prompt(send_test_view, command)
    test = SendTestSettings(url=url, secret=SECRET, scheme="whatsable", security_checks=False)
    report = await asyncio.to_thread(run_send_test, test, Criteria(), Quiet())
    print_plan_notes(report.notes, send_test_view)
    render_report(report, json_output=False, console=send_test_view)

    stop.set()
    await listening
    renderer.close()
    await app.cleanup()
    listen_view.save_svg(str(DOCS / "listen.svg"), title="whatsable listen")
    send_test_view.save_svg(str(DOCS / "send-test.svg"), title="whatsable send-test")
    print(f"wrote {DOCS / 'listen.svg'} and {DOCS / 'send-test.svg'}")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as home:  # the history goes here; the banner shows it as ~/...
        os.environ["HOME"] = home
        os.environ["WHATSABLE_DATA_DIR"] = str(Path(home) / ".local" / "share" / "whatsable")
        os.environ.pop("WHATSABLE_SECRET", None)
        asyncio.run(main())
