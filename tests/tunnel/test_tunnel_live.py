"""The main path against the real ngrok agent and service; skipped unless NGROK_AUTHTOKEN is set and ngrok answers."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import aiohttp
import pytest

from tests.support.listen_helpers import CapturingObserver, TargetApp, fixture_bytes
from tests.support.tunnel_helpers import Notices
from whatsable_cli.listen.forwarder import Routing
from whatsable_cli.listen.model import ListenSettings
from whatsable_cli.listen.service import serve
from whatsable_cli.recording.jsonl import iter_entries
from whatsable_cli.recording.lines import ForwardRecord, RecordedRequest
from whatsable_cli.tunnel import agent as ngrok_agent
from whatsable_cli.tunnel.ngrok import NgrokTunnel, TunnelSettings

# Read at import time: the autouse fixtures isolate HOME and clear NGROK_AUTHTOKEN for every test.
LIVE_TOKEN = os.environ.get("NGROK_AUTHTOKEN")
LIVE_AGENT = ngrok_agent.find_agent()
LIVE_DOMAIN = os.environ.get("WHATSABLE_LIVE_DOMAIN")  # optional: your static domain


def ngrok_answers() -> bool:
    try:
        socket.create_connection(("connect.ngrok-agent.com", 443), timeout=3).close()
    except OSError:
        return False
    return True


@pytest.mark.live
async def test_live_event_through_ngrok_is_recorded_and_forwarded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not LIVE_TOKEN:
        pytest.skip("NGROK_AUTHTOKEN is not set")
    if not LIVE_AGENT.exists:
        pytest.skip("no ngrok agent installed (the suite never downloads one)")
    if not ngrok_answers():
        pytest.skip("ngrok's servers do not answer from here")
    monkeypatch.setenv("NGROK_AUTHTOKEN", LIVE_TOKEN)
    target = await TargetApp().start()
    recording = tmp_path / "rec.jsonl"
    settings = ListenSettings(port=0, record_path=recording, routing=Routing((target.url(),), ()))
    notices = Notices()
    tunnel = NgrokTunnel(
        TunnelSettings(ngrok_path=str(LIVE_AGENT.path), domain=LIVE_DOMAIN, self_test_path=settings.path), notices
    )
    observer, stop = CapturingObserver(), asyncio.Event()
    served = asyncio.create_task(serve(settings, observer, stop, tunnel=tunnel))
    try:
        await observer.wait_until(lambda: observer.info is not None or served.done(), timeout=60)
        assert observer.info is not None, served.result()
        public = observer.info.public_webhook_url
        assert public is not None and public.startswith("https://")
        body = fixture_bytes("message_status/read")
        async with aiohttp.ClientSession() as session, session.post(public, data=body) as response:
            assert response.status == 200
        await target.wait_until(lambda: len(target.received) == 1, timeout=30)
    finally:
        stop.set()
        await served
        await target.stop()
    assert notices.items[-1].message == "self-test: a request through the public URL reached this listener"
    entries = list(iter_entries(recording, strict=True))
    assert [e.body_bytes for e in entries if isinstance(e, RecordedRequest)] == [body]
    assert [e.result.status for e in entries if isinstance(e, ForwardRecord)] == [200]
    assert target.received[0].body == body
