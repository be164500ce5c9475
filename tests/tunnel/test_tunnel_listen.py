"""`whatsable listen` with its ngrok tunnel (the stand-in agent): relay, banner, failures as exit 6, clean stops."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
from pathlib import Path

import aiohttp
import pytest

from tests.support.helpers import run_cli
from tests.support.listen_helpers import CapturingObserver, TargetApp, fixture_bytes, read_line_matching, spawn_listener
from tests.support.tunnel_helpers import Notices, agent_env, agent_log, install_fake_agent, started_pids, wait_gone
from whatsable_cli.listen.forwarder import Routing
from whatsable_cli.listen.model import ListenSettings
from whatsable_cli.listen.service import serve
from whatsable_cli.recording.jsonl import iter_entries
from whatsable_cli.recording.lines import ForwardRecord, RecordedRequest
from whatsable_cli.tunnel import pidfile as agent_pidfile
from whatsable_cli.tunnel.ngrok import NgrokTunnel, TunnelSettings

PUBLIC = re.compile(r"Public URL\s+(http://\S+)")
TOKEN = "2bXlistenTOKEN_abcdefghijklmnopqrst"


@pytest.fixture
def agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    agent_env(monkeypatch, tmp_path / "agent.jsonl", token=TOKEN)
    return install_fake_agent(tmp_path / "bin")


async def test_event_through_the_public_url_is_recorded_and_forwarded(agent: Path, tmp_path: Path) -> None:
    target = await TargetApp().start()
    recording = tmp_path / "rec.jsonl"
    settings = ListenSettings(port=0, record_path=recording, routing=Routing((target.url("/hooks/whatsable"),), ()))
    notices = Notices()
    tunnel = NgrokTunnel(TunnelSettings(ngrok_path=str(agent), self_test_path=settings.path), notices)
    observer, stop = CapturingObserver(), asyncio.Event()
    served = asyncio.create_task(serve(settings, observer, stop, tunnel=tunnel))
    try:
        await observer.wait_until(lambda: observer.info is not None or served.done())
        assert observer.info is not None, served.result()
        public = observer.info.public_webhook_url
        assert public is not None and public.endswith("/webhook")
        assert observer.info.inspector_url == tunnel.inspector_url
        body = fixture_bytes("message_status/delivered")
        async with aiohttp.ClientSession() as session, session.post(public, data=body) as response:
            assert response.status == 200
        await target.wait_until(lambda: len(target.received) == 1)
    finally:
        stop.set()
        await served
        await target.stop()
    entries = list(iter_entries(recording, strict=True))
    requests = [e for e in entries if isinstance(e, RecordedRequest)]
    forwards = [e for e in entries if isinstance(e, ForwardRecord)]
    assert [n.message for n in notices.items] == ["self-test: a request through the public URL reached this listener"]
    assert target.received[0].body == body
    assert len(requests) == 1 and requests[0].body_bytes == body  # the self-test was not recorded
    assert ("X-Forwarded-Proto", "https") in requests[0].headers
    assert forwards[0].result.status == 200
    wait_gone(started_pids(tmp_path / "agent.jsonl")[0])  # stopping the listener stopped the agent


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ("4018", "ngrok refused the session: no authtoken (ERR_NGROK_4018)"),
        ("105", "ngrok rejected the authtoken: it does not look like an ngrok authtoken (ERR_NGROK_105)"),
        ("107", "ngrok rejected the authtoken: it is well formed but invalid"),
        ("108", "(ERR_NGROK_108)"),
        ("offline", "cannot reach ngrok's servers: offline or blocked"),
        ("silent", "the ngrok agent was not ready within 0.5 s, so it was stopped"),
        ("api_error", "the ngrok agent refused the endpoint: yaml: unmarshal errors:"),
        ("too_old", "is too old (need 3.30.0 or newer)"),
    ],
)
def test_listen_exits_6_with_one_line_per_failure(
    scenario: str, message: str, agent: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NGROK_SCENARIO", scenario)
    run = run_cli(
        "listen", "--port", "0", "--no-record", "--ngrok-path", str(agent), "--tunnel-timeout", "0.5", "-o", "quiet"
    )
    assert run.exit_code == 6, run.stderr
    error_lines = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and message in error_lines[0]
    assert "hint:" in run.stderr
    assert TOKEN not in run.stderr + run.stdout
    assert "lvl=" not in run.stderr  # no raw agent line leaked
    for pid in started_pids(tmp_path / "agent.jsonl"):
        wait_gone(pid)


def test_listen_without_a_token_fails_at_once(agent: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NGROK_AUTHTOKEN")
    run = run_cli("listen", "--port", "0", "--no-record", "--ngrok-path", str(agent))
    assert run.exit_code == 6
    assert "error: no ngrok authtoken" in run.stderr and "ngrok config add-authtoken" in run.stderr
    assert started_pids(tmp_path / "agent.jsonl") == []


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--domain", "not a domain"], 2),  # a value the option never takes: click's usage error
        (["--basic-auth", "dev:short"], 2),
        (["--no-tunnel", "--domain", "a.ngrok.app"], 7),  # options that cannot go together
    ],
)
def test_bad_tunnel_options_fail_before_the_agent_starts(
    args: list[str], code: int, agent: Path, tmp_path: Path
) -> None:
    run = run_cli("listen", "--port", "0", "--no-record", "--ngrok-path", str(agent), *args)
    assert run.exit_code == code, run.stderr
    assert started_pids(tmp_path / "agent.jsonl") == []


def spawn_tunnelled_listener(agent: Path, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    """`whatsable listen` with its tunnel (the stand-in agent) as a subprocess; returns it and the public URL."""
    return spawn_listener("--ngrok-path", str(agent), *args, stdout=subprocess.DEVNULL, tunnel=True, ready=PUBLIC)


async def test_sigterm_closes_the_tunnel_and_leaves_no_agent(agent: Path, tmp_path: Path) -> None:
    recording = tmp_path / "rec.jsonl"
    proc, public = spawn_tunnelled_listener(agent, "--record", str(recording), "--domain", "hooks.example.com")
    assert public.endswith("/webhook")
    agent_pid = started_pids(tmp_path / "agent.jsonl")[0]
    try:
        body = fixture_bytes("incoming_message/text")
        async with aiohttp.ClientSession() as session, session.post(public, data=body) as response:
            assert response.status == 200
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 20) == 0
    finally:
        proc.kill()
        proc.wait()
    wait_gone(agent_pid)
    assert agent_pidfile.read_record() is None
    assert any(e["event"] == "api" and e["method"] == "DELETE" for e in agent_log(tmp_path / "agent.jsonl"))
    recorded = [e for e in iter_entries(recording, strict=True) if isinstance(e, RecordedRequest)]
    assert [r.body_bytes for r in recorded] == [body]
    assert not any(isinstance(e, ForwardRecord) for e in iter_entries(recording, strict=True))


def test_banner_shows_public_webhook_url_and_inspector(agent: Path, tmp_path: Path) -> None:
    proc, _ = spawn_tunnelled_listener(agent, "--no-record")
    try:
        assert proc.stderr is not None
        inspector = read_line_matching(proc.stderr, re.compile(r"Inspector\s+(http://127\.0\.0\.1:\d+)"))
        assert inspector.group(1).startswith("http://127.0.0.1:")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
    finally:
        proc.kill()
        proc.wait()
    wait_gone(started_pids(tmp_path / "agent.jsonl")[0])


def test_renderer_shows_tunnel_news_on_stderr_and_drops_loudly() -> None:
    from io import StringIO

    from rich.console import Console

    from whatsable_cli.listen.forwarder import Routing
    from whatsable_cli.listen.model import ListenInfo
    from whatsable_cli.render.listen import ListenRenderer
    from whatsable_cli.tunnel.ngrok import TunnelNotice

    out, err = StringIO(), StringIO()
    renderer = ListenRenderer("json", Console(file=out), Console(file=err, width=200))
    info = ListenInfo(
        "127.0.0.1",
        4242,
        "/webhook",
        None,
        False,
        "auto",
        False,
        Routing(),
        "relay",
        frozenset(),
        public_url="https://a.ngrok-free.app",
        inspector_url="http://127.0.0.1:4040",
    )
    renderer.ready(info)
    renderer.tunnel_notice(TunnelNotice("down", "TUNNEL DOWN: ngrok session lost: session closed"))
    renderer.tunnel_notice(TunnelNotice("recovered", "TUNNEL BACK UP: the public URL works again"))
    renderer.close()
    [ready] = [json.loads(line) for line in out.getvalue().splitlines()]  # stdout stays NDJSON-only
    assert ready["type"] == "ready" and ready["public_url"] == "https://a.ngrok-free.app/webhook"
    shown = err.getvalue()
    assert "Public URL   https://a.ngrok-free.app/webhook  (paste this into WhatsAble)" in shown
    assert "ngrok agent  http://127.0.0.1:4040" in shown
    assert shown.index("TUNNEL DOWN") < shown.index("TUNNEL BACK UP")
