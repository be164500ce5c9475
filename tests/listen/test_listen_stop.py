"""`listen --json` for scripts (a `ready` line first, a `summary` line last, so --port 0 works) and Ctrl-C:
the first finishes what is in flight and exits 0, a second during that quits at once."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from tests.support.listen_helpers import TargetApp, fixture_bytes, read_line_matching


def _listener(*args: str, tmp_path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "whatsable_cli", "listen", "--no-tunnel", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
        env={**os.environ, "COLUMNS": "200"},
        cwd=tmp_path,
    )


async def test_json_prints_ready_first_and_summary_last(tmp_path: Path) -> None:
    recording = tmp_path / "rec.jsonl"
    proc = _listener("--json", "--record", str(recording), tmp_path=tmp_path)
    try:
        assert proc.stdout is not None
        ready = json.loads(read_line_matching(proc.stdout, re.compile(r'^\{"type":"ready".*')).group(0))
        port = ready["port"]
        assert port > 0 and ready["local_url"] == f"http://127.0.0.1:{port}/webhook"
        assert ready["public_url"] is None and ready["recording"] == str(recording)
        body = fixture_bytes("message_status/delivered")
        async with aiohttp.ClientSession() as session, session.post(ready["local_url"], data=body) as answer:
            assert answer.status == 200
        read_line_matching(proc.stdout, re.compile(r'"type":"event"'))
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    last = json.loads(rest.decode().splitlines()[-1])
    assert last["type"] == "summary" and last["events"] == 1 and last["recording"] == str(recording)


async def test_a_second_ctrl_c_while_draining_quits_at_once(tmp_path: Path) -> None:
    held = asyncio.Event()
    target = await TargetApp(hold=held).start()  # the app sits on a breakpoint: the forward stays in flight
    proc = _listener("--forward-to", target.url(), "--no-record", tmp_path=tmp_path)
    sending: asyncio.Task[int] | None = None
    try:
        assert proc.stderr is not None
        url = read_line_matching(proc.stderr, re.compile(r"Webhook URL\s+(http://\S+)")).group(1)

        async def post() -> int:
            async with aiohttp.ClientSession() as session, session.post(url, data=b'{"event": "x"}') as answer:
                return answer.status

        sending = asyncio.create_task(post())
        await target.wait_until(lambda: len(target.received) == 1)
        proc.send_signal(signal.SIGINT)
        said = read_line_matching(proc.stderr, re.compile(r"stopping: .*press Ctrl-C again to quit now"))
        assert said is not None
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code = await asyncio.to_thread(proc.wait, 20)
        elapsed = time.monotonic() - started
        stderr = proc.stderr.read().decode()
    finally:
        held.set()
        if sending is not None:
            sending.cancel()
            await asyncio.gather(sending, return_exceptions=True)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        await target.stop()
    assert code == 130
    assert elapsed < 4  # the drain would have waited up to 5 s for the held request
    assert "quit at once" in stderr and "Traceback" not in stderr


def test_one_ctrl_c_still_exits_0_after_finishing(tmp_path: Path) -> None:
    proc = _listener("--no-record", tmp_path=tmp_path)
    assert proc.stderr is not None
    read_line_matching(proc.stderr, re.compile(r"Webhook URL"))
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "Stopped. 0 events" in stderr.decode()
