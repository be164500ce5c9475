"""Rendering a listen run to rich Consoles writing to StringIO: the banner (its "Try it" command), pretty, compact,
json, quiet, coalescing."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Sequence
from io import StringIO
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console

from tests.support.listen_helpers import CapturingObserver, fixture_bytes, running_listener
from whatsable_cli.delivery.results import DeliveryResult
from whatsable_cli.listen.forwarder import Routing
from whatsable_cli.listen.model import EventReport, ListenInfo, ListenSettings
from whatsable_cli.listen.stats import RunSummary
from whatsable_cli.recording.lines import RecordedRequest, encode_body
from whatsable_cli.render.listen import ListenRenderer, Origin, banner
from whatsable_cli.webhooks.events import SignatureCheck, parse_body

OK = DeliveryResult(url="http://localhost:3000/webhook", status=200, latency_ms=12.3, response_snippet='{"ok":1}')
DOWN = DeliveryResult(
    url="http://localhost:3001/in", error="connection refused by localhost:3001", error_code="refused"
)


def report(
    name: str,
    *,
    forwards: Sequence[DeliveryResult] = (),
    signature: SignatureCheck | None = None,
    flags: Sequence[str] = (),
    status: int = 200,
    body: bytes | None = None,
    request_id: str = "3f2a9c",
) -> EventReport:
    raw = fixture_bytes(name) if body is None else body
    parsed = parse_body(raw)
    text, encoding = encode_body(raw)
    request = RecordedRequest(
        id=request_id,
        received_at="2024-03-23T21:41:44.477Z",
        method="POST",
        path="/webhook",
        query="",
        headers=[("Content-Type", "application/json")],
        body=text,
        body_encoding=encoding,
        body_size=len(raw),
        event_type=parsed.kind,
        signature=signature,
        flags=list(flags),
    )
    return EventReport(request, parsed, status, "duplicate" in flags, list(forwards), [])


def consoles(*, terminal: bool = False) -> tuple[Console, Console, StringIO, StringIO]:
    out, err = StringIO(), StringIO()
    return (
        Console(file=out, width=200, force_terminal=terminal, color_system="standard" if terminal else None),
        Console(file=err, width=200, color_system=None),
        out,
        err,
    )


def render(mode: str, reports: Sequence[EventReport], **kwargs: Any) -> tuple[str, str]:
    out_console, err_console, out, err = consoles()
    renderer = ListenRenderer(mode, out_console, err_console, **kwargs)
    for item in reports:
        renderer.event(item)
    renderer.close()
    return out.getvalue(), err.getvalue()


def test_pretty_headline_badges_and_forward_lines() -> None:
    verified = SignatureCheck("verified", "whatsable")
    failed_sig = SignatureCheck("failed", "whatsable", "mismatch")
    out, _ = render(
        "pretty",
        [
            report("message_status/failed", forwards=[OK], signature=verified, flags=["duplicate"]),
            report("incoming_message/image", forwards=[DOWN], signature=failed_sig),
        ],
    )
    lines = out.splitlines()
    assert "message_status" in lines[0] and "failed" in lines[0] and "wamid." in lines[0]
    assert "131026: Message undeliverable" in lines[0]
    assert "✓ verified" in lines[0] and "[duplicate]" in lines[0]
    assert lines[1].strip() == "[200] POST http://localhost:3000/webhook 12 ms"
    assert "John Doe +8801734363287" in lines[2] and "image: Here is the receipt" in lines[2]
    assert "receipt.jpg" in lines[2] and "✗ signature mismatch" in lines[2]
    assert lines[3].strip().startswith("[---] POST http://localhost:3001/in")
    assert "connection refused" in lines[3]


def test_pretty_on_a_terminal_is_coloured() -> None:
    out_console, err_console, out, _ = consoles(terminal=True)
    renderer = ListenRenderer("pretty", out_console, err_console)
    renderer.event(report("message_status/read", forwards=[OK]))
    renderer.close()
    assert "\x1b[" in out.getvalue() and "read" in out.getvalue()


def test_show_body_adds_json_transcript_and_app_answer() -> None:
    out, _ = render("pretty", [report("incoming_message/image", forwards=[OK])], show_body=True)
    assert '"recipient_name": "John Doe"' in out  # pretty-printed JSON
    assert "Bot  Hi there! How can we help you today?" in out
    assert "User [image] Here is the receipt https://api.insightssystem.com/vault/6fb11ff2/receipt.jpg" in out
    assert 'answered: {"ok":1}' in out


def test_compact_is_one_line_per_event() -> None:
    reports = [
        report("message_status/delivered", forwards=[OK]),
        report("incoming_message/text"),
        report("message_status/read", body=b"not json at all", status=400),
        report("message_status/read", body=b'{"event":"contact_updated","data":{}}'),
    ]
    out, _ = render("compact", reports)
    lines = out.splitlines()
    assert len(lines) == 4
    assert "delivered" in lines[0] and lines[0].endswith("200 12ms")
    assert "not JSON" in lines[2] and "→ 400" in lines[2]
    assert "unknown: event 'contact_updated'" in lines[3]


def test_json_stream_parses_line_by_line_and_carries_forwards() -> None:
    reports = [report("message_status/delivered", forwards=[OK, DOWN]), report("incoming_message/text")]
    out, err = render("json", reports)
    objects = [json.loads(line) for line in out.splitlines()]
    assert [o["event_type"] for o in objects] == ["message_status", "incoming_message"]
    assert objects[0]["forwards"][0] == {
        "url": OK.url,
        "status": 200,
        "latency_ms": 12.3,
        "response_snippet": '{"ok":1}',
    }
    assert objects[0]["forwards"][1]["error_code"] == "refused"
    assert objects[1]["data"]["recipient_name"] == "John Doe"
    assert err == ""


def test_quiet_shows_only_problems_on_stderr() -> None:
    out, err = render(
        "quiet", [report("message_status/read", forwards=[OK]), report("message_status/sent", forwards=[DOWN])]
    )
    assert out == ""
    assert len(err.splitlines()) == 1 and "refused" in err


def test_a_burst_is_coalesced_instead_of_blocking() -> None:
    out_console, err_console, out, _ = consoles()
    renderer = ListenRenderer("compact", out_console, err_console, max_pending=5, start=False)
    renderer.ready(_info())
    for _ in range(50):
        renderer.event(report("message_status/read"))
    renderer.close()  # the render thread starts only now: the banner and 4 events waited, 46 were skipped
    lines = out.getvalue().splitlines()
    assert len(lines) == 5
    assert lines[-1] == "… 46 more events not shown (display too slow), see /tmp/rec.jsonl"


def test_a_display_bug_is_shown_as_a_line_and_never_reaches_the_listener(monkeypatch: Any) -> None:
    # Plain compact and JSON lines are formatted on the event loop, inside the service's report call.
    def broken(_: EventReport) -> Any:
        raise KeyError("boom")

    monkeypatch.setattr("whatsable_cli.render.listen_format.compact_line", broken)
    monkeypatch.setattr("whatsable_cli.render.listen_format.event_json", broken)
    for mode in ("compact", "json"):
        out_console, err_console, out, err = consoles()
        renderer = ListenRenderer(mode, out_console, err_console)
        renderer.event(report("message_status/read"))  # does not raise
        renderer.close()
        assert "could not display event" in err.getvalue() and "KeyError" in err.getvalue()
        assert out.getvalue() == ""


def _info() -> ListenInfo:
    return ListenInfo(
        host="127.0.0.1",
        port=4242,
        path="/webhook",
        recording=Path("/tmp/rec.jsonl"),
        secret_set=True,
        scheme="auto",
        require_signature=False,
        routing=Routing(("http://localhost:3000/webhook",), (("incoming_message", "http://localhost:3000/in"),)),
        respond="relay",
        event_filter=frozenset(),
        public_url="https://abc.ngrok.app",
    )


def test_banner_and_summary_go_to_stderr() -> None:
    out_console, err_console, out, err = consoles()
    renderer = ListenRenderer("compact", out_console, err_console)
    renderer.ready(_info())
    summary = RunSummary(recording=Path("/tmp/rec.jsonl"), duration_s=3.0, forwards_ok=4, forwards_failed=1)
    summary.forwards_cancelled = 2
    summary.events.update({"message_status": 3, "incoming_message": 2})
    summary.signatures.update({"verified": 4, "failed": 1})
    summary.still_queued = {"http://localhost:3000/in": 2}
    renderer.finished(summary)
    renderer.close()
    text = err.getvalue()
    assert out.getvalue() == ""
    assert "Webhook URL  http://127.0.0.1:4242/webhook" in text
    assert "Public URL   https://abc.ngrok.app/webhook" in text
    assert "Recording    /tmp/rec.jsonl" in text
    assert "Signatures   verified (scheme auto-detected per request)" in text
    assert "other events → http://localhost:3000/webhook" in text
    assert "incoming_message → http://localhost:3000/in" in text
    assert "Ctrl-C to stop" in text
    assert "Stopped. 5 events in 3.0 s: message_status 3, incoming_message 2" in text
    assert "forwards     4 ok, 1 failed, 2 cancelled at stop" in text
    assert "signatures   4 verified, 1 failed" in text
    assert "undelivered  2 to http://localhost:3000/in" in text


def test_listen_banner_says_how_to_send_a_test_event() -> None:
    info = ListenInfo("127.0.0.1", 4242, "/webhook", None, False, "auto", False, Routing((), ()), "relay", frozenset())
    assert any(
        "Try it       [bold]whatsable send-test http://127.0.0.1:4242/webhook --no-security-checks[/]" in line
        for line in banner(info)
    )
    signed = ListenInfo("0.0.0.0", 5000, "/in", None, True, "standard", True, Routing((), ()), "relay", frozenset())
    expected = 'whatsable send-test http://127.0.0.1:5000/in --secret "$WHATSABLE_SECRET" --scheme standard[/]'
    tunnel = ListenInfo(
        "127.0.0.1", 1, "/in", None, False, "auto", False, Routing((), ()), "relay", frozenset(), "https://x.ngrok.app"
    )
    assert any("whatsable send-test https://x.ngrok.app/in --no-security-checks" in line for line in banner(tunnel))
    assert any(expected in line for line in banner(signed, Origin(None, "WHATSABLE_SECRET")))


class StuckFile(io.StringIO):
    """A terminal or pipe nobody reads: every write blocks until released."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def write(self, text: str) -> int:
        self.release.wait()
        return super().write(text)


class RenderingObserver(CapturingObserver):
    """Captures (for the test) and renders (the code under test)."""

    def __init__(self, renderer: ListenRenderer) -> None:
        super().__init__()
        self.renderer = renderer

    def event(self, report: EventReport) -> None:
        super().event(report)
        self.renderer.event(report)


async def test_a_display_that_blocks_never_blocks_ingest(tmp_path: Path) -> None:
    stuck = StuckFile()
    renderer = ListenRenderer("compact", Console(file=stuck, color_system=None), Console(file=io.StringIO()))
    settings = ListenSettings(port=0, record_path=tmp_path / "rec.jsonl")
    try:
        async with running_listener(settings, RenderingObserver(renderer)) as listener:
            async with aiohttp.ClientSession() as session:
                for i in range(3000):
                    body = b'{"event":"message_status","data":{"message_id":"m%d","status":"sent"}}' % i
                    async with session.post(listener.url, data=body) as response:
                        assert response.status == 200
            requests, _ = listener.recording()
    finally:
        stuck.release.set()
        renderer.close()
    assert len(requests) == 3000  # every event answered and recorded while the display was stuck
    lines = stuck.getvalue().splitlines()
    assert len(lines) < 3000
    assert "more events not shown (display too slow)" in lines[-1]


def test_pretty_shows_an_event_at_once_and_labels_results_that_arrive_interleaved() -> None:
    out_console, err_console, out, _ = consoles()
    renderer = ListenRenderer("pretty", out_console, err_console)
    first = report("message_status/read", request_id="aaaa1111bbbb")
    second = report("incoming_message/text", request_id="cccc2222dddd")
    alone = report("message_status/sent", request_id="eeee3333ffff")
    for item in (first, second):
        renderer.received(item)  # both shown before either app answer
    for item in (first, second):
        item.forwards = [OK]
        renderer.event(item)
    renderer.received(alone)
    alone.forwards = [OK]
    renderer.event(alone)
    renderer.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 6
    assert "read" in lines[0] and lines[0].endswith("aaaa1111")
    assert "John Doe" in lines[1] and lines[1].endswith("cccc2222")
    assert lines[2].strip() == "[200] POST http://localhost:3000/webhook 12 ms  (aaaa1111)"
    assert lines[3].strip() == "[200] POST http://localhost:3000/webhook 12 ms  (cccc2222)"
    assert "sent" in lines[4]
    assert lines[5].strip() == "[200] POST http://localhost:3000/webhook 12 ms"  # right below its event
