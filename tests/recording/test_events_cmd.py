"""`whatsable events list|show|export` on recordings written in `listen`'s format and on the history (read by
default, earlier recordings imported on first use), and the curl export run for real."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support import endpoints
from tests.support.helpers import run_cli
from tests.support.history_helpers import record_run
from tests.support.recordings import (
    OLD_SECRET,
    decoded_recording,
    incoming_body,
    recorded,
    signed_request,
    status_body,
    write_recording,
)
from whatsable_cli.delivery.results import DeliveryResult
from whatsable_cli.paths import new_recording_path
from whatsable_cli.recording.history import History
from whatsable_cli.recording.history_queries import find_in_history
from whatsable_cli.recording.history_replays import ReplayRecord, add_replay
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
    assert lines[0].split()[:3] == ["id", "received", "event"]  # local time, as every display
    assert [line.split()[0] for line in lines[1:]] == [r.id[:8] for r in requests]
    assert "delivered" in lines[1] and "verified" in lines[1] and "200" in lines[1]
    assert "failed wamid." in lines[2] and "error 131026: Message undeliverable" in lines[2]
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


def test_list_reads_the_history_and_says_when_it_is_empty() -> None:
    empty = run_cli("events", "list")
    assert empty.exit_code == 0 and empty.stdout == ""
    assert "holds no events yet" in empty.stderr and "whatsable listen" in empty.stderr


def test_events_list_and_replay_say_what_they_read_by_default() -> None:
    # A recording an earlier version left in the data dir is imported on first use; replay with no source
    # sends the history's latest run and says which one.
    write_recording(new_recording_path(), [recorded(1, status_body(1))])
    listed = run_cli("events", "list")
    assert listed.exit_code == 0 and "imported 1 events from 1 earlier recordings" in listed.stderr
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        replayed = run_cli("replay", "--to", endpoint.url)
    assert replayed.exit_code == 0 and "replaying run 1 of the history" in replayed.stderr
    assert len(endpoint.received.bodies) == 1


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


def test_a_recording_line_missing_a_field_names_the_field(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "rec.jsonl", [recorded(1, status_body(1))])
    with path.open("ab") as recording:
        recording.write(b'{"type": "request"}\n')  # the warning said: corrupt line ('id')
    run = run_cli("events", "list", "--record", str(path))
    assert run.exit_code == 0
    assert "rec.jsonl:2: corrupt line (missing field 'id'); skipped" in run.stderr


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


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_exported_curl_of_a_decoded_body_drops_its_content_encoding(tmp_path: Path) -> None:
    path, body = decoded_recording(tmp_path)
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        exported = run_cli("events", "export", "0007", "--record", str(path), "--to", endpoint.url)
        assert exported.exit_code == 0, exported.stderr
        assert "Content-Encoding" not in exported.stdout
        done = subprocess.run(["sh", "-c", exported.stdout], capture_output=True, timeout=30, check=False)
        assert done.returncode == 0, done.stderr
    assert endpoint.received.bodies == [body]


def test_export_default_target_uses_the_recorded_path(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "rec.jsonl", [recorded(1, status_body(1))])
    run = run_cli("events", "export", "0001", "--record", str(path))
    assert run.stdout.rstrip().endswith("'http://localhost:3000/webhooks/whatsable'")
    assert run.stdout.startswith("printf ")


def test_events_export_to_a_url_that_is_not_http_is_bad_input(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "rec.jsonl", [recorded(1, status_body(1))])
    run = run_cli("events", "export", "0001", "--record", str(path), "--to", "localhost:3000/hook")
    assert run.exit_code == 7 and run.stdout == ""
    assert "error: --to 'localhost:3000/hook' is not an http(s) URL" in run.stderr


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


# -- the history: every run, by default ---------------------------------------------------------------


def two_runs() -> tuple[int, int]:
    first = record_run(
        [signed_request(1, status_body(1, "delivered")), signed_request(2, incoming_body(2, phone="8801734363287"))],
        port=4242,
        forwards=True,
    )
    second = record_run([signed_request(3, status_body(3, "failed"))], port=5050)
    return first, second


def listed(*args: str) -> list[dict[str, object]]:
    run = run_cli("events", "list", "--json", *args)
    assert run.exit_code == 0, run.stderr
    return [json.loads(line) for line in run.stdout.splitlines()]


def test_list_covers_every_run_newest_first_and_selects_one_run() -> None:
    first, second = two_runs()
    assert [row["id"][:4] for row in listed()] == ["0003", "0002", "0001"]
    assert [row["run"] for row in listed()] == [second, first, first]
    assert [row["id"][:4] for row in listed("--run", str(first))] == ["0002", "0001"]
    assert [row["id"][:4] for row in listed("--run", "latest")] == ["0003"]
    assert [row["id"][:4] for row in listed("--status", "failed,delivered", "--last", "1")] == ["0003"]
    unknown = run_cli("events", "list", "--run", "99")
    assert unknown.exit_code == 7 and "no run '99'" in unknown.stderr


def test_list_search_goes_with_the_other_filters() -> None:
    two_runs()
    assert [row["id"][:4] for row in listed("--search", "8801734363287")] == ["0002"]
    assert [row["id"][:4] for row in listed("--search", "wamid*", "--event", "message_status")] == ["0003", "0001"]
    assert listed("--search", "8801734363287", "--run", "latest") == []
    empty = run_cli("events", "list", "--search", "  ")
    assert empty.exit_code == 7 and "--search needs some text" in empty.stderr


def test_list_shows_the_newest_50_and_says_there_are_more() -> None:
    record_run([recorded(i, status_body(i)) for i in range(60)])
    run = run_cli("events", "list", "--json")
    assert len(run.stdout.splitlines()) == 50 and "--last N or --all" in run.stderr
    assert len(listed("--all")) == 60 and len(listed("--last", "55")) == 55


def test_history_options_on_a_recording_file_are_bad_input(tmp_path: Path) -> None:
    path, _ = sample(tmp_path)
    run = run_cli("events", "list", "--record", str(path), "--search", "x")
    assert run.exit_code == 7 and "--search: for the history" in run.stderr


def test_runs_lists_start_duration_port_counts_and_errors() -> None:
    first, second = two_runs()
    run = run_cli("events", "runs")
    assert run.exit_code == 0, run.stderr
    header, newest, oldest = run.stdout.splitlines()
    assert [word for word in header.split() if word != "(UTC)"][:5] == ["run", "started", "duration", "port", "events"]
    assert newest.split()[0] == str(second) and "5050" in newest
    assert oldest.split()[0] == str(first) and "4242" in oldest and "2 ok, 0 x" in oldest
    rows = [json.loads(line) for line in run_cli("events", "runs", "--json").stdout.splitlines()]
    assert [(row["id"], row["events"], row["port"]) for row in rows] == [(second, 1, 5050), (first, 2, 4242)]


def test_show_finds_an_id_from_an_earlier_run() -> None:
    first, _ = two_runs()
    run = run_cli("events", "show", "0002", "--json")
    assert run.exit_code == 0, run.stderr
    detail = json.loads(run.stdout)
    assert detail["run"] == first and detail["forwards"][0]["status"] == 200
    assert "run        1 (whatsable events list --run 1)" in run_cli("events", "show", "0002").stdout
    assert run_cli("events", "show", "000").exit_code == 7  # three ids start with it


def test_show_lists_the_replays_the_inspector_kept() -> None:
    two_runs()
    assert json.loads(run_cli("events", "show", "0002", "--json").stdout)["replays"] == []
    with History.open() as history:
        request_id = find_in_history(history, "0002")[0].id
        answered = DeliveryResult("http://localhost:3000/hook", 202, 4.2, '{"again":true}')
        add_replay(history.conn, ReplayRecord(request_id, "2026-12-03T10:00:00.000Z", answered, edited=True))
        refused = DeliveryResult("http://localhost:9/x", error="connection refused", error_code="refused")
        add_replay(history.conn, ReplayRecord(request_id, "2026-12-03T10:05:00.000Z", refused, resigned=True))
    shown = run_cli("events", "show", "0002").stdout
    assert "replays (sent from the inspector, newest first)" in shown
    listed = shown.split("replays (sent from the inspector, newest first)")[1].strip().splitlines()
    newest, oldest = (line.strip() for line in listed[:2])
    assert newest.startswith("re-signed http://localhost:9/x") and "refused: connection refused" in newest
    assert oldest.startswith("as recorded, edited http://localhost:3000/hook") and "202" in oldest
    detail = json.loads(run_cli("events", "show", "0002", "--json").stdout)
    assert [(r["resigned"], r["edited"], r.get("status")) for r in detail["replays"]] == [
        (True, False, None),
        (False, True, 202),
    ]


def test_export_jsonl_is_the_recording_format_byte_for_byte_and_imports_back(tmp_path: Path) -> None:
    first, _ = two_runs()
    whole = run_cli("events", "export", "--format", "jsonl")
    one_run = run_cli("events", "export", "--format", "jsonl", "--run", str(first))
    one = run_cli("events", "export", "0002", "--format", "jsonl")
    lines = whole.stdout.splitlines(keepends=True)
    assert [json.loads(line)["type"] for line in lines] == ["request", "forward", "request", "forward", "request"]
    assert lines[0].encode() == signed_request(1, status_body(1, "delivered")).to_json_line()
    assert one_run.stdout == "".join(lines[:4]) and one.stdout == "".join(lines[2:4])
    no_id = run_cli("events", "export", "--format", "curl")
    assert no_id.exit_code == 7 and "pass its id" in no_id.stderr
    saved = tmp_path / "export.jsonl"
    saved.write_text(whole.stdout)
    imported = run_cli("events", "import", str(saved), "--json")
    assert json.loads(imported.stdout)["added"] == 0  # all already there


def test_import_adds_a_run_once_and_reports_bad_files(tmp_path: Path) -> None:
    path, requests = sample(tmp_path)
    first = run_cli("events", "import", str(path))
    assert first.exit_code == 0 and "3 requests added as run 1" in first.stderr
    again = run_cli("events", "import", str(path), "--json")
    assert json.loads(again.stdout) | {"path": ""} == {
        "type": "import",
        "path": "",
        "added": 0,
        "known": 3,
        "forwards": 0,
        "run": None,
        "skipped_lines": 0,
    }
    assert [row["id"] for row in listed()] == [r.id for r in reversed(requests)]
    assert run_cli("events", "import", str(tmp_path / "missing.jsonl")).exit_code == 7
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(recorded(9, status_body(9)).to_json_line() + b"{not json\n")
    strict = run_cli("events", "import", str(broken), "--strict")
    assert strict.exit_code == 7 and f"{broken}:2" in strict.stderr
    lenient = run_cli("events", "import", str(broken))
    assert lenient.exit_code == 0 and f"{broken}:2: corrupt line" in lenient.stderr


def test_prune_by_age_count_and_size() -> None:
    old = (datetime.now(UTC) - timedelta(days=45)).isoformat()
    record_run([recorded(i, status_body(i), received_at=old) for i in range(3)])
    record_run([recorded(i, status_body(i)) for i in range(10, 16)])
    nothing = run_cli("events", "prune")
    assert nothing.exit_code == 7 and "--older-than 30d" in nothing.stderr
    aged = run_cli("events", "prune", "--older-than", "30d", "--json")
    assert json.loads(aged.stdout)["requests"] == 3 and json.loads(aged.stdout)["runs"] == 1
    assert run_cli("events", "prune", "--keep", "4").exit_code == 0
    assert [row["id"][:4] for row in listed()] == ["0015", "0014", "0013", "0012"]
    sized = run_cli("events", "prune", "--max-size", "1k")
    assert sized.exit_code == 0 and "pruned 4 events" in sized.stderr
    assert run_cli("events", "prune", "--max-size", "lots").exit_code == 7


def test_verify_and_replay_take_an_id_from_any_run() -> None:
    two_runs()
    ok = run_cli("verify", "--id", "0001", "--secret", OLD_SECRET)
    assert ok.exit_code == 0, ok.stderr
    assert run_cli("verify", "--id", "0001", "--secret", "another_secret").exit_code == 3
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        by_id = run_cli("replay", "--to", endpoint.url, "--id", "0001", "--id", "0003")
        latest = run_cli("replay", "--to", endpoint.url)
        first_run = run_cli("replay", "run:1", "--to", endpoint.url)
    assert by_id.exit_code == 0 and "replaying from the history" in by_id.stderr, by_id.stderr
    assert latest.exit_code == 0 and "replaying run 2 of the history" in latest.stderr
    assert first_run.exit_code == 0
    assert endpoint.received.bodies == [
        status_body(1, "delivered"),
        status_body(3, "failed"),
        status_body(3, "failed"),
        status_body(1, "delivered"),
        incoming_body(2, phone="8801734363287"),
    ]
    assert run_cli("replay", "run:7", "--to", "http://127.0.0.1:9/").exit_code == 7
