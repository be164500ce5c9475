"""`whatsable listen` as a real subprocess: crash safety under SIGKILL, and a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from tests.support.helpers import run_cli
from tests.support.listen_helpers import TargetApp, fixture_bytes, spawn_listener
from whatsable_cli.recording.jsonl import iter_entries
from whatsable_cli.recording.lines import RecordedRequest
from whatsable_cli.webhooks.signing import sign

SECRET = "test_signature_secret"


async def test_sigkill_mid_stream_loses_no_acknowledged_event(tmp_path: Path, isolated_dirs: Path) -> None:
    recording = tmp_path / "rec.jsonl"
    with (tmp_path / "stdout").open("wb") as stdout:
        proc, url = spawn_listener("--output", "json", "--record", str(recording), "--secret", SECRET, stdout=stdout)
    acknowledged: list[str] = []
    killed = asyncio.Event()

    async def send(session: aiohttp.ClientSession, i: int) -> None:
        body = b'{"event":"message_status","data":{"message_id":"wamid.%d","status":"read"}}' % i
        try:
            async with session.post(url, data=body, headers=sign("whatsable", SECRET, body)) as response:
                if 200 <= response.status < 300:
                    acknowledged.append((await response.json())["id"])
        except (aiohttp.ClientError, json.JSONDecodeError):
            return  # the listener died under this request: it was never acknowledged
        if len(acknowledged) == 150 and not killed.is_set():
            killed.set()
            proc.kill()  # SIGKILL while the other requests are still in flight

    try:
        connector = aiohttp.TCPConnector(limit=32)
        async with aiohttp.ClientSession(connector=connector) as session:
            await asyncio.gather(*(send(session, i) for i in range(600)))
    finally:
        proc.kill()
        proc.wait()
    assert killed.is_set() and proc.returncode == -signal.SIGKILL
    requests = [e for e in iter_entries(recording, strict=True) if isinstance(e, RecordedRequest)]  # all parse
    recorded_ids = {r.id for r in requests}
    assert 150 <= len(acknowledged) < 600  # killed mid-stream: later requests were never acknowledged
    assert set(acknowledged) <= recorded_ids
    assert all(r.signature is not None and r.signature.result == "verified" for r in requests)
    # The history: it opens cleanly (its WAL is recovered), and holds every acknowledged request, verified.
    history = isolated_dirs / "data" / "history.sqlite3"
    with sqlite3.connect(history) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        stored = dict(conn.execute("SELECT id, sig_result FROM requests").fetchall())
    assert set(acknowledged) <= set(stored) and set(stored.values()) == {"verified"}
    listed = run_cli("events", "list", "--all", "--json")
    assert listed.exit_code == 0 and {json.loads(line)["id"] for line in listed.stdout.splitlines()} == set(stored)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
async def test_a_stop_signal_ends_cleanly_with_a_summary_and_json_events(tmp_path: Path, stop_signal: int) -> None:
    target = await TargetApp().start()
    recording = tmp_path / "rec.jsonl"
    stdout_path = tmp_path / "stdout"
    try:
        with stdout_path.open("wb") as stdout:
            proc, url = spawn_listener(
                "--output", "json", "--record", str(recording), "--forward-to", target.url(), stdout=stdout
            )
        async with aiohttp.ClientSession() as session:
            for name in ("message_status/delivered", "incoming_message/image", "message_status/failed"):
                async with session.post(url, data=fixture_bytes(name)) as response:
                    assert response.status == 200
        proc.send_signal(stop_signal)  # SIGINT is what Ctrl-C sends
        assert proc.wait(timeout=20) == 0
    finally:
        await target.stop()
    assert proc.stderr is not None
    stderr = proc.stderr.read().decode()
    assert "Stopped. 3 events" in stderr
    assert "forwards     3 ok, 0 failed" in stderr
    lines = [json.loads(line) for line in stdout_path.read_text().splitlines()]
    assert lines[0]["type"] == "ready" and lines[-1]["type"] == "summary" and lines[-1]["events"] == 3
    events = lines[1:-1]
    assert [e["event_type"] for e in events] == ["message_status", "incoming_message", "message_status"]
    assert all(e["type"] == "event" and e["forwards"][0]["status"] == 200 for e in events)
    assert events[2]["data"]["status"] == "failed"
    assert len(target.received) == 3


def test_send_test_passes_against_a_listener_that_requires_signatures(tmp_path: Path) -> None:
    """The project's own sender drives the listener: valid events 200, every forged one 401, all recorded."""
    recording = tmp_path / "rec.jsonl"
    with (tmp_path / "stdout").open("wb") as stdout:
        proc, url = spawn_listener(
            "--output", "json", "--record", str(recording), "--secret", SECRET, "--require-signature", stdout=stdout
        )
    try:
        run = run_cli("send-test", url, "--secret", SECRET, "--all-variants")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    assert run.exit_code == 0, run.stdout + run.stderr
    requests = [e for e in iter_entries(recording, strict=True) if isinstance(e, RecordedRequest)]
    verified = [r for r in requests if r.signature is not None and r.signature.result == "verified"]
    rejected = [r for r in requests if "rejected" in r.flags]
    assert verified and rejected
    assert all(r.response_status == 401 for r in rejected)
    assert {r.event_type for r in verified} == {"message_status", "incoming_message"}
