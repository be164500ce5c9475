"""The round trip: a real `listen` subprocess records real requests; `replay` sends them to a real endpoint."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import httpx

from tests.support import endpoints
from tests.support.helpers import run_cli
from tests.support.listen_helpers import spawn_listener
from tests.support.recordings import incoming_body, status_body
from whatsable_cli.webhooks.signing import sign

SECRET = "roundtrip-secret"


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    return httpx.post(url, content=body, headers=headers, timeout=10).status_code


def test_listen_records_and_replay_sends_identical_bytes_and_original_headers(tmp_path: Path) -> None:
    recording = tmp_path / "rec.jsonl"
    bodies = [
        status_body(1, "read"),
        incoming_body(2, "image"),
        b'{"event": "message_status",\n  "data": {"message_id": "wamid.x", "status": "sent", "note": "caf\xc3\xa9"}}\n',
    ]
    with (tmp_path / "listen.out").open("wb") as stdout:
        proc, url = spawn_listener("--record", str(recording), "--secret", SECRET, stdout=stdout)
    try:
        for i, body in enumerate(bodies):
            headers = {"Content-Type": "application/json", "X-Trace": f"trace-{i}", **sign("whatsable", SECRET, body)}
            assert post(url, body, headers) == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    listed = run_cli("events", "list", "--record", str(recording))
    assert listed.exit_code == 0 and listed.stdout.count("verified") == 3
    with endpoints.serve(lambda r, _: endpoints.correct("whatsable", SECRET, r)) as endpoint:
        run = run_cli("replay", str(recording), "--to", endpoint.url)
    assert run.exit_code == 0, run.stdout + run.stderr  # the endpoint verified the original signatures
    assert endpoint.received.bodies == bodies
    for i, (body, headers) in enumerate(zip(bodies, endpoint.received.headers, strict=True)):
        seen = {k.lower(): v for k, v in headers.items()}
        assert seen["x-trace"] == f"trace-{i}"
        assert seen["x-webhook-signature"] == sign("whatsable", SECRET, body)["X-Webhook-Signature"]
        assert seen["content-type"] == "application/json"
