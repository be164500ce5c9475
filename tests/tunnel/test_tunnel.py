"""The tunnel through the real pyngrok code path, against the stand-in agent: relay, options, health, close."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.support.tunnel_helpers import Notices, agent_env, agent_log, install_fake_agent, started_pids, wait_gone
from whatsable_cli.config import SELF_TEST_HEADER
from whatsable_cli.tunnel import pidfile as agent_pidfile
from whatsable_cli.tunnel.ngrok import NgrokTunnel, TunnelSettings


@pytest.fixture
def fake_agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    agent_env(monkeypatch, tmp_path / "agent.jsonl")
    return install_fake_agent(tmp_path / "bin")


@pytest.fixture
async def listener(aiohttp_server: Any) -> tuple[int, list[dict[str, Any]]]:
    """A real aiohttp listener that records what reaches it and echoes the self-test header."""
    seen: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.Response:
        if SELF_TEST_HEADER in request.headers:
            return web.Response(text="ok", headers={SELF_TEST_HEADER: request.headers[SELF_TEST_HEADER]})
        seen.append({"path": request.path_qs, "body": await request.read(), "headers": dict(request.headers)})
        return web.json_response({"received": True})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    server = await aiohttp_server(app, host="127.0.0.1")
    return int(server.port), seen


async def open_tunnel(tunnel: NgrokTunnel, port: int) -> str:
    # open() blocks while the agent starts; the listener shares this event loop, so run it aside.
    return await asyncio.to_thread(tunnel.open, port)


async def test_event_posted_to_public_url_reaches_listener(fake_agent: Path, tmp_path: Path, listener: Any) -> None:
    port, seen = listener
    tunnel = NgrokTunnel(TunnelSettings(ngrok_path=str(fake_agent)))
    public_url = await open_tunnel(tunnel, port)
    try:
        body = b'{"event":"message_status","data":{"status":"read"}}'
        headers = {"X-Webhook-Signature": "ab"}
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{public_url}/webhook?x=1", data=body, headers=headers) as r,
        ):
            assert r.status == 200
        assert seen[0]["path"] == "/webhook?x=1"
        assert seen[0]["body"] == body
        assert seen[0]["headers"]["X-Forwarded-Proto"] == "https"
        assert seen[0]["headers"]["X-Webhook-Signature"] == "ab"
        assert tunnel.inspector_url is not None
        assert tunnel.inspector_url.startswith("http://127.0.0.1:")
        assert agent_pidfile.read_record() is not None
        check = await asyncio.to_thread(tunnel.self_test, "/webhook")
        assert check.ok, check.detail
        assert len(seen) == 1  # the self-test is answered, not recorded
    finally:
        tunnel.close()
    log = agent_log(tmp_path / "agent.jsonl")
    start = next(e for e in log if e["event"] == "start")
    assert start["argv"][:4] == ["start", "--none", "--log", "stdout"]
    assert "--authtoken" not in start["argv"]  # the token travels in the environment, not on `ps`
    assert "--config" in start["argv"]
    created = next(e for e in log if e["event"] == "api" and e["method"] == "POST")
    assert created["body"]["upstream"] == {"url": f"http://127.0.0.1:{port}"}
    assert any(e["event"] == "api" and e["method"] == "DELETE" for e in log)
    wait_gone(started_pids(tmp_path / "agent.jsonl")[0])
    assert agent_pidfile.read_record() is None


async def test_domain_and_basic_auth_reach_the_agent(fake_agent: Path, tmp_path: Path, listener: Any) -> None:
    port, seen = listener
    settings = TunnelSettings(
        ngrok_path=str(fake_agent), domain="https://My-App.ngrok-free.app/", basic_auth="dev:s3cret-pass"
    )
    tunnel = NgrokTunnel(settings)
    public_url = await open_tunnel(tunnel, port)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(public_url, data=b"{}") as anonymous:
                assert anonymous.status == 401
            auth = {"Authorization": "Basic " + base64.b64encode(b"dev:s3cret-pass").decode()}
            async with session.post(public_url, data=b"{}", headers=auth) as allowed:
                assert allowed.status == 200
        assert len(seen) == 1
        assert (await asyncio.to_thread(tunnel.self_test)).ok  # the self-test sends the credentials
    finally:
        tunnel.close()
    created = next(e for e in agent_log(tmp_path / "agent.jsonl") if e["event"] == "api" and e["method"] == "POST")
    assert created["body"]["url"] == "https://my-app.ngrok-free.app"
    action = created["body"]["traffic_policy"]["on_http_request"][0]["actions"][0]
    assert action == {"type": "basic-auth", "config": {"credentials": ["dev:s3cret-pass"]}}


async def test_self_test_fails_when_something_else_answers(fake_agent: Path, aiohttp_server: Any) -> None:
    async def not_ours(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/", not_ours)
    server = await aiohttp_server(app, host="127.0.0.1")
    tunnel = NgrokTunnel(TunnelSettings(ngrok_path=str(fake_agent)))
    await open_tunnel(tunnel, int(server.port))
    try:
        check = await asyncio.to_thread(tunnel.self_test)
    finally:
        tunnel.close()
    assert not check.ok
    assert "something other than this listener" in check.detail


async def test_self_test_reports_unreachable_listener(fake_agent: Path, unused_tcp_port: int) -> None:
    tunnel = NgrokTunnel(TunnelSettings(ngrok_path=str(fake_agent)))
    await open_tunnel(tunnel, unused_tcp_port)
    try:
        check = await asyncio.to_thread(tunnel.self_test)
    finally:
        tunnel.close()
    assert not check.ok
    assert "ERR_NGROK_8012" in check.detail


def test_session_drop_and_recovery_are_reported(fake_agent: Path) -> None:
    notices = Notices()
    tunnel = NgrokTunnel(TunnelSettings(ngrok_path=str(fake_agent), health_interval=60), notices)
    tunnel.open(9)
    try:
        assert tunnel.inspector_url is not None
        _post(f"{tunnel.inspector_url}/_fake/drop")
        down = notices.wait_for("down")
        assert "TUNNEL DOWN" in down.message
        assert "session closed by server" in down.message
        assert not tunnel.healthy
        _post(f"{tunnel.inspector_url}/_fake/recover")
        assert "TUNNEL BACK UP" in notices.wait_for("recovered").message
        assert tunnel.healthy
    finally:
        tunnel.close()


def test_agent_exit_is_reported_as_down(fake_agent: Path, tmp_path: Path) -> None:
    notices = Notices()
    tunnel = NgrokTunnel(TunnelSettings(ngrok_path=str(fake_agent), health_interval=0.05), notices)
    tunnel.open(9)
    try:
        pid = started_pids(tmp_path / "agent.jsonl")[0]
        agent_pidfile.stop_process(pid)
        assert "the ngrok agent exited" in notices.wait_for("down").message
    finally:
        tunnel.close()


def test_close_twice_is_harmless_and_stops_the_agent(fake_agent: Path, tmp_path: Path) -> None:
    tunnel = NgrokTunnel(TunnelSettings(ngrok_path=str(fake_agent)))
    tunnel.open(9)
    tunnel.close()
    tunnel.close()
    wait_gone(started_pids(tmp_path / "agent.jsonl")[0])


def test_token_from_ngrok_config_file(fake_agent: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NGROK_AUTHTOKEN")
    config = tmp_path / "home" / ".config" / "ngrok" / "ngrok.yml"
    config.parent.mkdir(parents=True)
    config.write_text('version: "3"\nagent:\n  authtoken: from-config-file\n', encoding="utf-8")
    tunnel = NgrokTunnel(TunnelSettings(ngrok_path=str(fake_agent)))
    try:
        assert tunnel.open(9).startswith("http://127.0.0.1:")
    finally:
        tunnel.close()
    start = next(e for e in agent_log(tmp_path / "agent.jsonl") if e["event"] == "start")
    assert start["argv"][start["argv"].index("--config") + 1] == str(config)


def test_agent_lines_never_reach_the_terminal(fake_agent: Path, capfd: pytest.CaptureFixture[str]) -> None:
    tunnel = NgrokTunnel(TunnelSettings(ngrok_path=str(fake_agent)))
    tunnel.open(9)
    tunnel.close()
    out, err = capfd.readouterr()
    assert "lvl=" not in out + err
    assert out == ""


def _post(url: str) -> None:
    import urllib.request

    request = urllib.request.Request(url, data=json.dumps({}).encode(), method="POST")  # noqa: S310 (loopback)
    urllib.request.urlopen(request, timeout=5).close()  # noqa: S310
