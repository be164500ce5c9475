"""The inspector in a real headless Chromium (Playwright, Debian's chromium): live list, filters, search, an event's
page, replay, diff, the latency chart, and the browser-side security rules. A real listener writes the history,
forwarding to a real app; every wait is Playwright's auto-waiting `expect`, never a sleep."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.support.inspector_helpers import browser_page, live_setup, need_browser
from tests.support.listen_helpers import fixture_bytes
from whatsable_cli.render.text import SHORT_ID

DEADLINE_MS = 15_000


def _expect() -> Any:
    need_browser()
    from playwright.async_api import expect

    expect.set_options(timeout=DEADLINE_MS)
    return expect


async def test_a_new_event_appears_live_without_a_reload(tmp_path: Path) -> None:
    expect = _expect()
    async with live_setup(tmp_path) as setup, browser_page() as page:
        await page.goto(setup.inspector.url)
        await expect(page.locator("#live")).to_have_text("● live")
        await expect(page.locator("#empty")).to_be_visible()
        sent = await setup.send(fixture_bytes("incoming_message/text"))
        row = page.locator(f'tr.event-row[data-id="{sent}"]')
        await expect(row).to_be_visible()
        await expect(row).to_contain_text("John Doe +8801734363287: Hello! Is my order #4521 shipped yet?")
        await expect(row).to_contain_text("200 ·")  # forwarded: the app's status and the latency
        await expect(row).to_contain_text("relayed")  # the sender got the app's answer, not one of ours
        second = await setup.send(fixture_bytes("message_status/read"))
        await expect(page.locator("tr.event-row")).to_have_count(2)
        await expect(page.locator("tr.event-row").first).to_have_attribute("data-id", second)  # newest on top


async def test_a_filter_and_a_search_narrow_the_list(tmp_path: Path) -> None:
    expect = _expect()
    async with live_setup(tmp_path) as setup, browser_page() as page:
        for name in ("message_status/delivered", "message_status/read", "incoming_message/text"):
            await setup.send(fixture_bytes(name))
        await page.goto(setup.inspector.url)
        rows = page.locator("tr.event-row")
        await expect(rows).to_have_count(3)
        await page.select_option("#filter-event", "message_status")
        await expect(rows).to_have_count(2)
        await page.select_option("#filter-status", "read")
        await expect(rows).to_have_count(1)
        await expect(rows).to_contain_text("read")
        await page.click("text=Clear")
        await expect(rows).to_have_count(3)
        await page.fill("#filter-q", "4521")
        await page.press("#filter-q", "Enter")
        await expect(rows).to_have_count(1)
        await expect(rows).to_contain_text("Is my order #4521 shipped yet?")
        assert "q=4521" in page.url  # the filters are in the address: a reload or a shared link keeps them
        await page.fill("#filter-q", "nothing-matches-this")
        await page.press("#filter-q", "Enter")
        await expect(rows).to_have_count(0)
        later = await setup.send(fixture_bytes("message_status/sent"))  # live, but it does not match the search
        await page.fill("#filter-q", "")
        await page.select_option("#filter-status", "sent")
        await expect(page.locator(f'tr.event-row[data-id="{later}"]')).to_be_visible()


async def test_an_events_page_shows_the_chat_and_the_forwards_answer(tmp_path: Path) -> None:
    expect = _expect()
    async with live_setup(tmp_path, answer=b'{"handled":"order 4521 looked up"}') as setup, browser_page() as page:
        sent = await setup.send(fixture_bytes("incoming_message/text"))
        await page.goto(setup.inspector.url)
        await page.click(f'tr.event-row[data-id="{sent}"] td.summary a')
        bubbles = page.locator("#chat .bubble")
        await expect(bubbles).to_have_count(2)
        await expect(bubbles.nth(0)).to_contain_text("Hi there! How can we help you today?")
        await expect(bubbles.nth(0)).to_have_class(re.compile(r"\bbot\b"))
        await expect(bubbles.nth(1)).to_contain_text("Hello! Is my order #4521 shipped yet?")
        await expect(page.locator("#forwards")).to_contain_text('{"handled":"order 4521 looked up"}')
        await expect(page.locator("#forwards")).to_contain_text(setup.target.url("/hooks"))
        await expect(page.locator("#verdict")).to_contain_text("unchecked")
        await expect(page.locator("#body")).to_contain_text('"recipient_name": "John Doe"')
        await expect(page.locator("#headers")).to_contain_text("Content-Type")
        await expect(page.locator("dl.meta")).to_contain_text("relayed")


async def test_an_events_page_shows_a_forward_that_ends_after_it_opened(tmp_path: Path) -> None:
    expect = _expect()
    async with live_setup(tmp_path, answer=b'{"handled":"after a breakpoint"}') as setup, browser_page() as page:
        setup.target.hold = asyncio.Event()  # the app sits on a breakpoint
        await page.goto(setup.inspector.url)
        sending = asyncio.ensure_future(setup.send(fixture_bytes("incoming_message/text")))
        row = page.locator("tr.event-row")
        await expect(row).to_have_count(1)  # recorded before it is forwarded: listed at once
        await page.click("tr.event-row td.summary a")
        await expect(page.locator("#forwards-card")).to_contain_text("Not forwarded")
        setup.target.hold.set()
        await expect(page.locator("#forwards")).to_contain_text('{"handled":"after a breakpoint"}')
        sent = await sending
        await expect(page.locator("dl.meta")).to_contain_text(sent)  # the same event, not a reload elsewhere


async def test_replay_and_an_edited_replay_show_the_apps_answer(tmp_path: Path) -> None:
    expect = _expect()
    async with live_setup(tmp_path, answer=b'{"handled":"again"}') as setup, browser_page() as page:
        sent = await setup.send(fixture_bytes("message_status/delivered"))
        await page.goto(f"{setup.inspector.url}#/event/{sent}")
        await expect(page.locator("#replay-url")).to_have_value(setup.target.url("/hooks"))
        await page.click("#replay-send")
        answer = page.locator("#replay-answer")
        await expect(answer).to_contain_text('{"handled":"again"}')
        await expect(answer).to_contain_text("as recorded")
        await setup.target.wait_until(lambda: len(setup.target.received) == 2)  # the forward, then the replay
        assert setup.target.received[1].body == fixture_bytes("message_status/delivered")
        await page.check("#replay-edit")
        await page.fill("#replay-body", '{"event":"message_status","data":{"status":"read"}}')
        await page.click("#replay-send")
        await expect(answer).to_contain_text("edited")
        await setup.target.wait_until(lambda: len(setup.target.received) == 3)
        assert setup.target.received[2].body == b'{"event":"message_status","data":{"status":"read"}}'
        await page.fill("#replay-url", "http://127.0.0.1:9/nothing-listens")
        await page.click("#replay-send")
        await expect(answer).to_contain_text("connection refused")
        await page.click("#copy-curl")
        await expect(page.locator("#curl")).to_contain_text("'http://127.0.0.1:9/nothing-listens'")
        kept = page.locator("#replays tbody tr")
        await expect(kept).to_have_count(3)  # each replay joins the list at the top
        await page.reload()  # and is kept in the history
        await expect(kept).to_have_count(3)
        await expect(kept.nth(0)).to_contain_text("refused")
        await expect(kept.nth(1)).to_contain_text("edited")
        await expect(kept.nth(2)).to_contain_text('{"handled":"again"}')
        await expect(page.locator("#curl")).to_contain_text("--data-binary @-")


async def test_two_events_compared_show_their_diff(tmp_path: Path) -> None:
    expect = _expect()
    async with live_setup(tmp_path) as setup, browser_page() as page:
        first = await setup.send(fixture_bytes("message_status/delivered"))
        second = await setup.send(fixture_bytes("message_status/read"))
        await page.goto(setup.inspector.url)
        await page.check(f'input.pick[data-id="{first}"]')
        await expect(page.locator("#compare")).to_be_disabled()
        await page.check(f'input.pick[data-id="{second}"]')
        await page.click("#compare")
        body = page.locator("#body-diff")  # the older event on the left
        await expect(body.locator(".del", has_text='"status"')).to_have_text('-    "status": "delivered",')
        await expect(body.locator(".add", has_text='"status"')).to_have_text('+    "status": "read",')
        await expect(page.locator(".side.del")).to_contain_text(first[:SHORT_ID])


async def test_a_runs_latency_chart_has_a_point_per_forward(tmp_path: Path) -> None:
    expect = _expect()
    async with live_setup(tmp_path) as setup, browser_page() as page:
        for name in ("message_status/delivered", "message_status/read", "incoming_message/text"):
            await setup.send(fixture_bytes(name))
        await page.goto(f"{setup.inspector.url}#/runs")
        await page.click("table.runs a")
        await expect(page.locator("#latency-chart circle.dot.ok")).to_have_count(3)
        await expect(page.locator("#run-stats")).to_contain_text("3 forwards")
        await page.locator("#latency-chart circle.dot").first.click()
        await expect(page.locator("#forwards")).to_be_visible()  # a point opens its event


async def test_a_rebound_host_name_gets_nothing(tmp_path: Path) -> None:
    """DNS rebinding: a site's own name resolving to 127.0.0.1 (the resolver rule stands in for its DNS)."""
    expect = _expect()
    async with (
        live_setup(tmp_path) as setup,
        browser_page("--host-resolver-rules=MAP rebound.example 127.0.0.1") as page,
    ):
        await setup.send(fixture_bytes("incoming_message/text"))
        response = await page.goto(f"http://rebound.example:{setup.inspector.port}/api/events")
        assert response is not None and response.status == 421
        await expect(page.locator("body")).not_to_contain_text("John Doe")
        response = await page.goto(f"http://rebound.example:{setup.inspector.port}/")
        assert response is not None and response.status == 421


async def test_another_site_cannot_make_the_inspector_send(tmp_path: Path) -> None:
    """A page of another origin, open in the same browser, posts to the replay URL by fetch and by a form."""
    expect = _expect()
    async with live_setup(tmp_path) as setup:
        sent = await setup.send(fixture_bytes("message_status/delivered"))
        replay = f"{setup.inspector.url}api/events/{sent}/replay"
        ask = '{"url": "' + setup.target.url("/hooks") + '"}'
        attack = f"""<!doctype html><title>cute cats</title>
<form id="f" method="post" action="{replay}" enctype="text/plain"><input name='{ask[:-1]}, "x": "' value='"}}'></form>
<script>
fetch("{replay}", {{method: "POST", mode: "no-cors", body: '{ask}', headers: {{"Content-Type": "text/plain"}}}})
  .catch(() => null).finally(() => {{ document.getElementById("f").submit(); }});
</script>"""

        async def evil(request: web.Request) -> web.Response:
            return web.Response(text=attack, content_type="text/html")

        app = web.Application()
        app.router.add_get("/", evil)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        try:
            async with browser_page() as page:
                answered: list[str] = []
                page.on("response", lambda r: answered.append(f"{r.status}") if r.url == replay else None)
                page.on("requestfailed", lambda r: answered.append(str(r.failure)) if r.url == replay else None)
                async with page.expect_navigation(url=replay):  # the form's post: the inspector refuses it
                    await page.goto(f"http://127.0.0.1:{runner.addresses[0][1]}/")
                await expect(page.locator("body")).to_contain_text("cross-origin request refused")
                # Both reached it: the fetch's answer came back (its Cross-Origin-Resource-Policy then kept it
                # from the other site's script), and the form's was the refusal shown.
                assert sorted(answered) == ["403", "net::ERR_BLOCKED_BY_RESPONSE.NotSameOrigin"]
        finally:
            await runner.cleanup()
        assert len(setup.target.received) == 1  # the listener's own forward; nothing on the attacker's behalf


async def test_signature_values_are_redacted_until_shown_on_request(tmp_path: Path) -> None:
    expect = _expect()
    signature = "9f" * 32
    headers = {"Content-Type": "application/json", "X-Webhook-Signature": signature}
    async with live_setup(tmp_path, show_secrets=True) as setup, browser_page() as page:
        sent = await setup.send(fixture_bytes("message_status/read"), headers)
        await page.goto(f"{setup.inspector.url}#/event/{sent}")
        await expect(page.locator("#headers")).to_contain_text("9f9f…(64 chars)")
        await expect(page.locator("#curl")).not_to_contain_text(signature)
        await page.click("#show-secrets")  # allowed: this inspector was started with --show-secrets
        await expect(page.locator("#headers")).to_contain_text(signature)
