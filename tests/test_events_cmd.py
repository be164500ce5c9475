"""`whatsable events list|show|export` on recordings written in `listen`'s format, and the curl export run for real."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import endpoints
from tests.helpers import run_cli
from tests.recordings import incoming_body, recorded, signed_request, status_body, write_recording
from whatsable_cli.delivery.results import DeliveryResult
from whatsable_cli.recording.jsonl import RecordingWriter
from whatsable_cli.recording.lines import ForwardRecord, RecordedRequest

CURL = shutil.which("curl")


def sample(tmp_path: Path) -> tuple[Path, list[RecordedRequest]]:
    requests = [
        signed_request(0, status_body(0, "delivered")),
        signed_request(1, status_body(1, "failed")),
        signed_request(2, incoming_body(2, phone="8801734363287")),
    ]
    return write_recording(tmp_path / "rec.jsonl", requests, forwards=True), requests


def test_list_shows_one_row_per_request_with_key_fields(tmp_path: Path) -> None:
    path, requests = sample(tmp_path)
    run = run_cli("events", "list", "--record", str(path))
    assert run.exit_code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].split()[:3] == ["id", "received", "(UTC)"]
    assert [line.split()[0] for line in lines[1:]] == [r.id[:8] for r in requests]
    assert "delivered" in lines[1] and "verified" in lines[1] and "200" in lines[1]
    assert "failed (error 131026)" in lines[2]
    assert "+8801734363287: " in lines[3]


def test_list_json_filters_and_last(tmp_path: Path) -> None:
    path, requests = sample(tmp_path)
    run = run_cli("events", "list", "--record", str(path), "--json", "--event", "message_status", "--last", "1")
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    assert [r["id"] for r in rows] == [requests[1].id]
    assert rows[0]["status"] == "failed"
    assert rows[0]["forwards"][0]["status"] == 200
    where = run_cli("events", "list", "--record", str(path), "--json", "--where", "data.phone_number=8801734363287")
    assert [json.loads(line)["id"] for line in where.stdout.splitlines()] == [requests[2].id]


def test_list_defaults_to_the_newest_recording_and_fails_clearly_without_one(isolated_dirs: Path) -> None:
    missing = run_cli("events", "list")
    assert missing.exit_code == 7
    assert "no recording found" in missing.stderr
    folder = isolated_dirs / "data" / "recordings"
    folder.mkdir(parents=True)
    write_recording(folder / "20260101T000000_000000Z.jsonl", [recorded(0, status_body(0))])
    write_recording(folder / "20260202T000000_000000Z.jsonl", [recorded(7, status_body(7))])
    run = run_cli("events", "list", "--json")
    assert [json.loads(line)["id"][:4] for line in run.stdout.splitlines()] == ["0007"]


def test_list_skips_a_corrupt_line_and_names_it(tmp_path: Path) -> None:
    path, _ = sample(tmp_path)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:2]) + b"{not json\n" + b"".join(lines[2:]))
    run = run_cli("events", "list", "--record", str(path), "--json")
    assert run.exit_code == 0
    assert len(run.stdout.splitlines()) == 3
    assert f"{path}:3: corrupt line" in run.stderr
    strict = run_cli("events", "list", "--record", str(path), "--strict")
    assert strict.exit_code == 7 and f"{path}:3" in strict.stderr


def test_show_redacts_signatures_decodes_the_transcript_and_lists_forwards(tmp_path: Path) -> None:
    path, requests = sample(tmp_path)
    target = requests[2]
    signature = target.header("X-Webhook-Signature")
    assert signature is not None
    run = run_cli("events", "show", target.id[:6], "--record", str(path))
    assert run.exit_code == 0, run.stderr
    assert "X-Webhook-Signature" in run.stdout and signature not in run.stdout
    assert "transcript" in run.stdout
    assert "bot  Hi there! How can we help you today?" in run.stdout
    assert '"phone_number": "8801734363287"' in run.stdout  # pretty-printed body
    assert "http://localhost:3000/hook  200" in run.stdout
    shown = run_cli("events", "show", target.id[:6], "--record", str(path), "--show-secrets", "--json")
    detail = json.loads(shown.stdout)
    assert ["X-Webhook-Signature", signature] in detail["headers"]
    assert detail["transcript"][0]["type"] == "bot"
    assert detail["forwards"][0]["status"] == 200


def test_show_unknown_or_ambiguous_id_is_exit_7(tmp_path: Path) -> None:
    path, _ = sample(tmp_path)
    unknown = run_cli("events", "show", "zzzz", "--record", str(path))
    assert unknown.exit_code == 7 and "no recorded request" in unknown.stderr
    ambiguous = run_cli("events", "show", "000", "--record", str(path))
    assert ambiguous.exit_code == 7 and "more than one" in ambiguous.stderr


def test_export_body_and_json_are_exact(tmp_path: Path) -> None:
    body = b"\x00\xff binary \r\n body"
    path = write_recording(tmp_path / "rec.jsonl", [recorded(5, body)])
    raw = subprocess.run(
        [sys.executable, "-m", "whatsable_cli", "events", "export", "0005", "--format", "body", "--record", str(path)],
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert raw.stdout == body
    as_json = run_cli("events", "export", "0005", "--format", "json", "--record", str(path))
    assert RecordedRequest.from_dict(json.loads(as_json.stdout)).body_bytes == body


TRICKY_BODIES = [
    status_body(1),
    b'{"text": "it\'s 100% \\"quoted\\" \\\\ back\\nslash",\n "emoji": "\xf0\x9f\x98\x80"}\n\n',
    b"-starts with a dash %s %d \\x41 \x00\x01\x7f\x80\xfe\xff",
]


@pytest.mark.skipif(CURL is None, reason="curl is not installed, so the exported command cannot be run")
@pytest.mark.parametrize("body", TRICKY_BODIES, ids=["compact-json", "quotes-percent-newlines", "binary"])
def test_exported_curl_command_delivers_the_same_bytes(tmp_path: Path, body: bytes) -> None:
    request = recorded(3, body, [("X-Webhook-Signature", "abc'def"), ("X-Empty", ""), ("Connection", "keep-alive")])
    path = write_recording(tmp_path / "rec.jsonl", [request])
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        exported = run_cli("events", "export", "0003", "--record", str(path), "--to", endpoint.url)
        assert exported.exit_code == 0, exported.stderr
        for shell in ("bash", "sh"):
            done = subprocess.run([shell, "-c", exported.stdout], capture_output=True, timeout=30, check=False)
            assert done.returncode == 0, done.stderr
    assert endpoint.received.bodies == [body, body]
    headers = {k.lower(): v for k, v in endpoint.received.headers[0].items()}
    assert headers["x-webhook-signature"] == "abc'def"
    assert headers["x-empty"] == ""
    assert headers["content-type"] == "application/json"


def test_export_default_target_uses_the_recorded_path(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "rec.jsonl", [recorded(1, status_body(1))])
    run = run_cli("events", "export", "0001", "--record", str(path))
    assert run.stdout.rstrip().endswith("'http://localhost:3000/webhooks/whatsable'")
    assert run.stdout.startswith("printf ")


def test_forward_lines_written_after_other_requests_still_attach(tmp_path: Path) -> None:
    first, second = recorded(1, status_body(1)), recorded(2, status_body(2))
    path = tmp_path / "rec.jsonl"
    with RecordingWriter(path) as writer:
        writer.append(first.to_json_line())
        writer.append(second.to_json_line())
        writer.append(ForwardRecord(first.id, DeliveryResult("http://app/hook", 502)).to_json_line())
        writer.append(ForwardRecord(first.id, DeliveryResult("http://app/hook", 200), attempt=2).to_json_line())
    run = run_cli("events", "list", "--record", str(path), "--json")
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    assert [f["status"] for f in rows[0]["forwards"]] == [502, 200]
    assert rows[1]["forwards"] == []
