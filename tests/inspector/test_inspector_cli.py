"""`whatsable inspect` and `listen`'s inspector as real processes: the printed URL, a port in use, loopback only,
and never through the tunnel (the stand-in ngrok agent's public URL)."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.support.helpers import run_cli
from tests.support.inspector_helpers import TOKEN_META, record, request
from tests.support.listen_helpers import fixture_bytes, read_line_matching, spawn_listener
from tests.support.tunnel_helpers import agent_env, install_fake_agent
from tests.test_packaging import installed  # noqa: F401 (a fixture: the wheel, built and installed)
from whatsable_cli.commands import inspect as inspect_command
from whatsable_cli.config import Config
from whatsable_cli.paths import history_path

INSPECTOR = re.compile(r"Inspector\s+(http://127\.0\.0\.1:\d+/)")
PUBLIC = re.compile(r"Public URL\s+(http://\S+)")
READY_JSON = re.compile(r'(\{"type": ?"ready".*\})')


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(20)
    finally:
        proc.kill()
        proc.wait()


async def _get(url: str, **headers: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        return response.status, await response.text()


async def test_inspect_serves_the_history_and_stops_on_ctrl_c() -> None:
    record(history_path(), (request("cli1", "incoming_message/text"), []))
    proc = subprocess.Popen(
        [sys.executable, "-m", "whatsable_cli", "inspect", "--port", "0", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )
    try:
        assert proc.stdout is not None
        ready = json.loads(read_line_matching(proc.stdout, READY_JSON).group(1))
        assert ready["history"] == str(history_path())
        status, page = await _get(ready["url"])
        assert status == 200 and TOKEN_META.search(page)
        status, listed = await _get(ready["url"] + "api/events")
        assert status == 200 and [row["id"] for row in json.loads(listed)["events"]] == ["cli1"]
    finally:
        code = await asyncio.to_thread(_stop, proc)
    assert code == 0


def test_inspect_refuses_a_host_that_is_not_loopback() -> None:
    run = run_cli("inspect", "--host", "0.0.0.0")
    assert run.exit_code == 7
    assert "the inspector only listens on this machine, not on '0.0.0.0'" in run.stderr


def test_inspect_on_a_port_in_use_is_exit_7() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        run = run_cli("inspect", "--port", str(busy.getsockname()[1]))
    assert run.exit_code == 7
    assert "the inspector cannot listen on 127.0.0.1" in run.stderr and "--inspect-port" in run.stderr


async def test_listen_prints_the_inspector_url_and_the_page_shows_its_events() -> None:
    proc, webhook = spawn_listener(stdout=subprocess.DEVNULL)
    try:
        assert proc.stderr is not None
        inspector = read_line_matching(proc.stderr, INSPECTOR).group(1)
        assert inspector.split(":")[2] != webhook.split(":")[2]  # a port of its own, not the listener's
        async with (
            aiohttp.ClientSession() as session,
            session.post(webhook, data=fixture_bytes("incoming_message/text")) as response,
        ):
            assert response.status == 200
        status, listed = await _get(inspector + "api/events")
        assert status == 200
        assert [row["summary"] for row in json.loads(listed)["events"]] == [
            "John Doe +8801734363287: Hello! Is my order #4521 shipped yet?"
        ]
        status, _ = await _get(webhook.rsplit("/", 1)[0] + "/api/events")  # the listener's port: not the inspector
        assert status == 404
        async with aiohttp.ClientSession() as session, session.get(inspector + "api/stream") as stream:
            assert await stream.content.readline() == b"retry: 1000\n"  # a page is open, following live
            code = await asyncio.to_thread(_stop, proc)  # Ctrl-C still stops at once
            await stream.content.read()  # returns: the stream was ended, not left hanging
            assert stream.content.at_eof()
    finally:
        proc.kill()
        proc.wait()
    assert code == 0


def test_listen_with_no_inspect_serves_none() -> None:
    banner_end = re.compile(r"(Inspector\s+http\S+|Ctrl-C to stop)")  # the inspector's line comes before the end
    proc, first = spawn_listener("--no-inspect", stdout=subprocess.DEVNULL, ready=banner_end)
    assert _stop(proc) == 0
    assert first == "Ctrl-C to stop"


def test_listen_runs_on_when_the_inspector_port_is_taken() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc, _ = spawn_listener(
            "--inspect-port",
            str(port),
            stdout=subprocess.DEVNULL,
            ready=re.compile(r"(warning: the inspector cannot listen on 127\.0\.0\.1:\d+.*)"),
        )
        try:
            assert proc.stderr is not None
            url = read_line_matching(proc.stderr, re.compile(r"Webhook URL\s+(http://\S+)")).group(1)
            assert url.endswith("/webhook")
        finally:
            assert _stop(proc) == 0


def test_listen_refuses_an_inspector_host_that_is_not_loopback() -> None:
    run = run_cli("listen", "--no-tunnel", "--port", "0", "--inspect-host", "192.168.1.20", "--no-record")
    assert run.exit_code == 7
    assert "not on '192.168.1.20'" in run.stderr


async def test_the_inspector_is_not_reachable_through_the_tunnel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent_env(monkeypatch, tmp_path / "agent.jsonl")
    agent = install_fake_agent(tmp_path / "bin")
    proc, public = spawn_listener("--ngrok-path", str(agent), stdout=subprocess.DEVNULL, tunnel=True, ready=PUBLIC)
    try:
        assert proc.stderr is not None
        inspector = read_line_matching(proc.stderr, INSPECTOR).group(1)
        status, page = await _get(inspector)
        assert status == 200 and TOKEN_META.search(page)  # it is there, on this machine
        base = public.rsplit("/", 1)[0]
        for path in ("/", "/api/events", "/api/config", "/static/app.js", "/api/stream"):
            status, text = await _get(base + path)
            assert status == 404, (path, status)  # the listener's answer: an unknown path
            assert "whatsable-token" not in text and '"events"' not in text
    finally:
        code = await asyncio.to_thread(_stop, proc)
    assert code == 0


def test_inspect_port_precedence() -> None:
    assert inspect_command.inspect_port(Config(), None) == 4243
    assert inspect_command.inspect_port(Config(), None, listener_port=0) == 0  # --port 0: free ports for both
    assert inspect_command.inspect_port(Config(values={"inspect_port": 5000}), None, listener_port=0) == 5000
    assert inspect_command.inspect_port(Config(values={"inspect_port": 5000}), 6000) == 6000
    with pytest.raises(Exception, match="invalid inspector port"):
        inspect_command.inspect_port(Config(values={"inspect_port": "x"}), None)


def test_open_asks_the_browser_and_warns_when_there_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    import webbrowser

    opened: list[str] = []
    warnings: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or False)
    inspect_command.open_browser("http://127.0.0.1:4243/", warnings.append)
    assert opened == ["http://127.0.0.1:4243/"]
    assert warnings == ["could not open a browser: open http://127.0.0.1:4243/ yourself"]


@pytest.mark.slow
async def test_the_wheel_ships_the_pages_assets(installed: Path, tmp_path: Path) -> None:  # noqa: F811
    """Installed from the wheel and run from another directory, the page and its files are served (offline)."""
    proc = subprocess.Popen(
        [str(installed / "whatsable"), "inspect", "--port", "0", "--json"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )
    try:
        assert proc.stdout is not None
        url = json.loads(read_line_matching(proc.stdout, READY_JSON).group(1))["url"]
        for path, marker in (("", "whatsable-token"), ("static/app.js", "EventSource"), ("static/app.css", ".bubble")):
            status, text = await _get(url + path)
            assert status == 200 and marker in text, path
    finally:
        code = await asyncio.to_thread(_stop, proc)
    assert code == 0


def test_listen_json_names_the_inspector_on_its_first_line() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "whatsable_cli", "listen", "--no-tunnel", "--port", "0", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        bufsize=0,
    )
    try:
        assert proc.stdout is not None
        ready = json.loads(read_line_matching(proc.stdout, READY_JSON).group(1))
    finally:
        assert _stop(proc) == 0
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", ready["web_inspector_url"])
    assert ready["inspector_url"] is None  # ngrok's own, when a tunnel is open
