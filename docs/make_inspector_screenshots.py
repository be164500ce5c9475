"""The README's inspector screenshots: a real listener records signed events forwarded to a small app, then
headless Chromium (Playwright, Debian's chromium) photographs the inspector's pages into docs/inspector-*.png.

    python docs/make_inspector_screenshots.py [--chromium /usr/bin/chromium]

Nothing outside this machine is reached; the history lives in a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import tempfile
from pathlib import Path

import aiohttp
from aiohttp import web
from playwright.async_api import Page, async_playwright

from whatsable_cli.inspector.model import InspectorSettings
from whatsable_cli.inspector.server import start_inspector
from whatsable_cli.listen.forwarder import Routing
from whatsable_cli.listen.model import ListenInfo, ListenSettings, NullObserver
from whatsable_cli.listen.service import serve
from whatsable_cli.webhooks.signing import sign

DOCS = Path(__file__).resolve().parent
FIXTURES = DOCS.parent / "fixtures"
SECRET = "4f9c2b7e1d0a8c6b5e3f2a1d9c8b7a6e5f4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b"  # noqa: S105 (a demo's, nothing real)
SENT = [
    "incoming_message/text",
    "message_status/sent",
    "message_status/delivered",
    "message_status/read",
    "incoming_message/image",
    "flat/incoming_message/ad_referral",
    "message_status/failed",
    "incoming_message/location",
    "flat/outgoing_message/teammate",
    "message_status/delivered",
]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


class Ready(NullObserver):
    def __init__(self) -> None:
        self.info: ListenInfo | None = None
        self.listening = asyncio.Event()

    def ready(self, info: ListenInfo) -> None:
        self.info = info
        self.listening.set()


async def app_under_development() -> tuple[web.AppRunner, str]:
    """The developer's app: answers each event after a few milliseconds (enough for a latency chart)."""
    delays = itertools.cycle([0.004, 0.011, 0.007, 0.032, 0.006, 0.009, 0.015, 0.005, 0.052, 0.008])
    tickets = itertools.count(4521)

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(next(delays))
        return web.json_response({"handled": True, "ticket": next(tickets)})

    app = web.Application()
    app.router.add_post("/hooks/whatsable", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/hooks/whatsable"


async def record_events(history: Path, target: str) -> None:
    observer = Ready()
    settings = ListenSettings(port=0, record_path=None, history_path=history, secret=SECRET, routing=Routing((target,)))
    stop = asyncio.Event()
    served = asyncio.create_task(serve(settings, observer, stop))
    await observer.listening.wait()
    assert observer.info is not None
    async with aiohttp.ClientSession() as session:
        for number, name in enumerate(SENT):
            body = (FIXTURES / f"{name}.json").read_bytes()
            headers = {"Content-Type": "application/json", **sign("whatsable-hmac", SECRET, body)}
            if number == 6:  # one forged: its signature was made with another secret
                headers.update(sign("whatsable-hmac", "not-the-secret", body))
            async with session.post(observer.info.local_webhook_url, data=body, headers=headers) as response:
                await response.read()
    stop.set()
    await served


async def shoot(page: Page, url: str, target: str) -> None:
    await page.goto(url)
    await page.locator("tr.event-row").nth(len(SENT) - 1).wait_for()
    await page.screenshot(path=DOCS / "inspector-list.png")

    await page.locator("tr.event-row", has_text="Hello! Is my order").first.locator("td.summary a").click()
    await page.locator("#chat .bubble").first.wait_for()
    await page.fill("#replay-url", target)
    await page.click("#replay-send")
    await page.locator("#replay-answer").wait_for()
    await page.set_viewport_size({"width": 1200, "height": 1380})
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=DOCS / "inspector-event.png")
    await page.set_viewport_size({"width": 1200, "height": 760})

    await page.goto(url)
    delivered = page.locator("tr.event-row", has_text="delivered")
    await delivered.first.wait_for()
    sent = await page.locator("tr.event-row", has_text="sent").first.get_attribute("data-id")
    await page.check(f'input.pick[data-id="{sent}"]')
    await page.check(f'input.pick[data-id="{await delivered.last.get_attribute("data-id")}"]')
    await page.click("#compare")
    await page.locator("#body-diff .add").first.wait_for()
    await page.screenshot(path=DOCS / "inspector-diff.png")

    await page.goto(f"{url}#/run/1")
    await page.locator("#latency-chart circle").first.wait_for()
    await page.screenshot(path=DOCS / "inspector-run.png")


async def main(chromium: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        history = Path(folder) / "history.sqlite3"
        runner, target = await app_under_development()
        try:
            await record_events(history, target)
            inspector = await start_inspector(InspectorSettings(history, port=0, secret=SECRET, targets=(target,)))
            try:
                async with async_playwright() as driver:
                    browser = await driver.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
                    page = await browser.new_page(viewport={"width": 1200, "height": 760}, color_scheme="light")
                    await shoot(page, inspector.url, target)
                    await browser.close()
            finally:
                await inspector.stop()
        finally:
            await runner.cleanup()
    print("wrote", ", ".join(sorted(path.name for path in DOCS.glob("inspector-*.png"))))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    asyncio.run(main(parser.parse_args().chromium))
