"""The inspector's guard over real loopback HTTP: the Host check, the token and the Origin on POST, loopback only,
the security headers, and replays (exact, edited, re-signed; redirects never followed; kept in the history)."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.support.inspector_helpers import (
    SIGNATURE,
    action_headers,
    forward,
    inspector_settings,
    page_token,
    record,
    request,
    running_inspector,
)
from tests.support.listen_helpers import RawClient, TargetApp, fixture_bytes
from whatsable_cli.errors import BadInputError
from whatsable_cli.inspector.model import loopback_host
from whatsable_cli.inspector.security import TOKEN_HEADER
from whatsable_cli.recording.history import History
from whatsable_cli.recording.history_retention import prune
from whatsable_cli.webhooks.signing import verify


def _history(tmp_path: Path, target: str = "http://127.0.0.1:9/hooks") -> Path:
    path = tmp_path / "history.sqlite3"
    record(path, (request("a1", "message_status/delivered"), [forward("a1", target, 200, 3.0)]))
    return path


@pytest.mark.parametrize(
    ("host", "served"),
    [
        ("127.0.0.1:{port}", True),
        ("localhost:{port}", True),
        ("LOCALHOST:{port}", True),
        ("evil.example:{port}", False),  # a rebound name: the page of another site, pointed at 127.0.0.1
        ("127.0.0.1", False),
        ("127.0.0.1:1{port}", False),
        ("localhost.evil.example:{port}", False),
        ("", False),
    ],
)
async def test_only_loopback_names_with_this_port_are_served(tmp_path: Path, host: str, served: bool) -> None:
    async with running_inspector(inspector_settings(_history(tmp_path))) as inspector:
        for path in ("/", "/api/events", "/static/app.js", "/api/events/a1"):
            client = await RawClient.connect(inspector.port)
            try:
                line = f"Host: {host.format(port=inspector.port)}"
                await client.send(f"GET {path} HTTP/1.1\r\n{line}\r\nConnection: close\r\n\r\n".encode())
                answer = await client.answer()
            finally:
                client.close()
            assert (answer.status == 200) is served, (path, answer.status)
            if not served:
                assert answer.status == 421 and b"a1" not in answer.body


async def test_a_request_without_host_is_refused(tmp_path: Path) -> None:
    async with running_inspector(inspector_settings(_history(tmp_path))) as inspector:
        client = await RawClient.connect(inspector.port)
        try:
            await client.send(b"GET /api/events HTTP/1.0\r\n\r\n")
            assert (await client.answer()).status == 421
        finally:
            client.close()


async def test_a_post_needs_the_token_and_the_pages_origin(tmp_path: Path) -> None:
    target = await TargetApp().start()
    try:
        async with (
            running_inspector(inspector_settings(_history(tmp_path, target.url("/hooks")))) as inspector,
            aiohttp.ClientSession() as session,
        ):
            token = await page_token(session, inspector.url)
            url = f"{inspector.url}api/events/a1/replay"
            ask = {"url": target.url("/hooks")}
            good = action_headers(inspector.url, token)
            refused = [
                {},
                {"Origin": good["Origin"]},  # the page's origin, no token
                {"Origin": good["Origin"], TOKEN_HEADER: "x" + token[1:]},  # a wrong token
                {TOKEN_HEADER: token},  # the token, no Origin
                {TOKEN_HEADER: token, "Origin": "http://evil.example"},
                {TOKEN_HEADER: token, "Origin": "null"},
                {TOKEN_HEADER: token, "Origin": f"http://127.0.0.1:{inspector.port + 1}"},
            ]
            for headers in refused:
                async with session.post(url, json=ask, headers=headers) as response:
                    assert response.status == 403, headers
            assert target.received == []  # nothing was sent on their behalf
            async with session.post(url, json=ask, headers=good) as response:
                assert response.status == 200
                result = await response.json()
            assert result["status"] == 200 and result["answer"] == '{"handled":true}'
            assert [r.body for r in target.received] == [fixture_bytes("message_status/delivered")]
            async with session.get(url) as response:  # replay is a POST only
                assert response.status == 405
    finally:
        await target.stop()


async def test_each_run_has_its_own_token(tmp_path: Path) -> None:
    history = _history(tmp_path)
    async with aiohttp.ClientSession() as session:
        async with running_inspector(inspector_settings(history)) as first:
            one = await page_token(session, first.url)
        async with running_inspector(inspector_settings(history)) as second:
            two = await page_token(session, second.url)
    assert one != two and len(one) >= 40


async def test_every_answer_forbids_framing_and_foreign_scripts(tmp_path: Path) -> None:
    async with (
        running_inspector(inspector_settings(_history(tmp_path))) as inspector,
        aiohttp.ClientSession() as session,
    ):
        for path in ("", "api/events", "static/app.css", "api/events/none"):
            async with session.get(inspector.url + path) as response:
                assert response.headers["X-Frame-Options"] == "DENY"
                assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
                assert "script-src 'self'" in response.headers["Content-Security-Policy"]
                assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.com", "10.0.0.1"])
def test_only_a_loopback_host_is_accepted(host: str) -> None:
    with pytest.raises(BadInputError, match="only listens on this machine"):
        loopback_host(host)


@pytest.mark.parametrize(("host", "bound"), [("127.0.0.1", "127.0.0.1"), ("localhost", "127.0.0.1"), ("::1", "::1")])
def test_loopback_hosts(host: str, bound: str) -> None:
    assert loopback_host(host) == bound


def _outward_address() -> str | None:
    """This machine's address on a non-loopback interface, if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: routing only, nothing goes out
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


async def test_it_listens_on_loopback_only(tmp_path: Path) -> None:
    async with running_inspector(inspector_settings(_history(tmp_path))) as inspector:
        assert [address[0] for address in inspector.runner.addresses] == ["127.0.0.1"]
        outward = _outward_address()
        if outward is None:
            return  # no other interface on this machine to try
        with socket.socket() as sock:
            sock.settimeout(5)
            with pytest.raises(ConnectionRefusedError):
                sock.connect((outward, inspector.port))


async def test_replay_edits_resigns_and_never_follows_a_redirect(tmp_path: Path) -> None:
    secret = "s3cr3t-for-the-inspector"
    landed: list[str] = []

    async def redirect(request: web.Request) -> web.Response:
        landed.append(request.path)
        if request.path == "/moved":
            raise web.HTTPFound("/elsewhere")
        return web.json_response({"seen": True})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", redirect)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    target = await TargetApp().start()
    try:
        settings = inspector_settings(_history(tmp_path), secret=secret)
        async with running_inspector(settings) as inspector, aiohttp.ClientSession() as session:
            headers = action_headers(inspector.url, await page_token(session, inspector.url))
            url = f"{inspector.url}api/events/a1/replay"

            async def replay(ask: dict[str, object]) -> dict[str, object]:
                async with session.post(url, json=ask, headers=headers) as response:
                    return dict(await response.json())

            moved = await replay({"url": f"{base}/moved"})
            assert moved["status"] == 302 and landed == ["/moved"]  # the Location was not followed
            exact = await replay({"url": target.url("/hooks")})
            assert exact["edited"] is False and exact["warning"] is None
            edited = await replay({"url": target.url("/hooks"), "body": '{"event":"message_status","data":{}}'})
            assert edited["edited"] is True and "signature was kept" in str(edited["warning"])
            resigned = await replay({"url": target.url("/hooks"), "body": '{"edited":1}', "resign": True})
            assert resigned["resigned"] is True and resigned["warning"] is None
            assert all(SIGNATURE not in str(value) for value in resigned["sent_headers"])  # type: ignore[attr-defined]
            bad = await replay({"url": "ftp://127.0.0.1/x"})
            assert "not an http(s) URL" in str(bad["error"])
            assert exact["not_kept"] is None
            async with session.get(f"{inspector.url}api/events/a1") as response:
                kept = (await response.json())["replays"]  # newest first; the refused one was never sent
            assert [(r["status"], r["resigned"], r["edited"]) for r in kept] == [
                (200, True, True),
                (200, False, True),
                (200, False, False),
                (302, False, False),
            ]
            assert kept[-1]["url"] == f"{base}/moved" and kept[0]["answer"] == '{"handled":true}'
        sent = target.received
        assert sent[0].body == fixture_bytes("message_status/delivered")
        assert ("X-Webhook-Signature", SIGNATURE) in sent[0].headers  # byte-exact: the recorded headers
        assert sent[1].body == b'{"event":"message_status","data":{}}'
        assert sent[2].body == b'{"edited":1}'
        fresh = dict(sent[2].headers)["X-Webhook-Signature"]
        assert fresh != SIGNATURE
        assert verify("whatsable-hmac", secret, sent[2].body, dict(sent[2].headers)).ok
    finally:
        await target.stop()
        await runner.cleanup()


async def test_a_replay_is_kept_with_its_request_until_the_request_is_pruned(tmp_path: Path) -> None:
    target = await TargetApp().start()
    path = _history(tmp_path)
    try:
        async with running_inspector(inspector_settings(path)) as inspector, aiohttp.ClientSession() as session:
            headers = action_headers(inspector.url, await page_token(session, inspector.url))
            ask = {"url": target.url("/hooks")}
            async with session.post(f"{inspector.url}api/events/a1/replay", json=ask, headers=headers) as response:
                assert (await response.json())["not_kept"] is None
            with sqlite3.connect(path) as holder:  # another writer holds the lock past the inspector's wait
                holder.execute("BEGIN IMMEDIATE")
                async with session.post(f"{inspector.url}api/events/a1/replay", json=ask, headers=headers) as response:
                    answer = await response.json()
                holder.rollback()
            assert answer["status"] == 200 and "not kept in the history: database is locked" in answer["not_kept"]
        async with (
            running_inspector(inspector_settings(path)) as inspector,
            aiohttp.ClientSession() as session,
            session.get(f"{inspector.url}api/events/a1") as response,
        ):
            assert [r["status"] for r in (await response.json())["replays"]] == [200]  # a new inspector sees it
        with History.open(path) as history:
            prune(history, keep=0)
            assert history.conn.execute("SELECT count(*) FROM replays").fetchone() == (0,)
    finally:
        await target.stop()
    assert len(target.received) == 2  # both were sent


async def test_resign_without_a_secret_is_refused(tmp_path: Path) -> None:
    async with (
        running_inspector(inspector_settings(_history(tmp_path))) as inspector,
        aiohttp.ClientSession() as session,
    ):
        headers = action_headers(inspector.url, await page_token(session, inspector.url))
        ask = {"url": "http://127.0.0.1:9/x", "resign": True}
        async with session.post(f"{inspector.url}api/events/a1/replay", json=ask, headers=headers) as response:
            assert response.status == 400
            assert "no secret to re-sign with" in (await response.json())["error"]
        async with session.post(f"{inspector.url}api/events/a1/replay", data=b"[", headers=headers) as response:
            assert response.status == 400
