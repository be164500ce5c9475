"""`whatsable replay` against real loopback endpoints: exact bytes, headers, re-signing, sources, order."""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import pytest
from aiohttp import web

from tests.support import endpoints
from tests.support.helpers import Run, run_cli
from tests.support.recordings import (
    OLD_SECRET,
    decoded_recording,
    incoming_body,
    numbered_bodies,
    recorded,
    signed_request,
    status_body,
    write_recording,
)
from whatsable_cli.webhooks.fixtures import find_fixture
from whatsable_cli.webhooks.signing import SCHEMES, generate_secret, verify


def replay(*args: str, input: str | bytes | None = None) -> Run:
    return run_cli("replay", *args, input=input)


def ndjson(run: Run) -> list[dict[str, Any]]:
    return [json.loads(line) for line in run.stdout.splitlines() if line.strip()]


def lower_keys(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def test_replays_byte_identical_bodies_and_the_original_headers(tmp_path: Path) -> None:
    odd_bodies = [
        status_body(1),
        b'{"event": "incoming_message",\n "data": {"text": "caf\xc3\xa9 \xf0\x9f\x98\x80"}}\n',  # not compact
        b"\xff\xfe not UTF-8 at all \x00",  # stored as base64 in the recording
    ]
    requests = [
        recorded(i, body, [("X-Webhook-Signature", f"sig{i}"), ("X-Trace", f"t{i}"), ("User-Agent", "WhatsAble/1")])
        for i, body in enumerate(odd_bodies)
    ]
    path = write_recording(tmp_path / "rec.jsonl", requests)
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        run = replay(str(path), "--to", endpoint.url)
    assert run.exit_code == 0, run.stderr
    assert endpoint.received.bodies == odd_bodies
    for i, headers in enumerate(endpoint.received.headers):
        seen = lower_keys(headers)
        assert seen["x-webhook-signature"] == f"sig{i}"
        assert seen["x-trace"] == f"t{i}"
        assert seen["user-agent"] == "WhatsAble/1"
        assert seen["content-type"] == "application/json"
        assert seen["host"] != "127.0.0.1:4242"  # Host belongs to the new hop
    assert "passed 3" in run.stdout


def test_replay_of_a_decoded_body_drops_its_content_encoding(tmp_path: Path) -> None:
    path, body = decoded_recording(tmp_path)
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        run = run_cli("replay", str(path), "--to", endpoint.url)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert endpoint.received.bodies == [body]
    headers = {k.lower(): v for k, v in endpoint.received.headers[0].items()}
    assert "content-encoding" not in headers
    assert headers["x-webhook-signature"] == "sig"


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_resigns_with_a_fresh_signature_the_endpoint_verifies(tmp_path: Path, scheme: str) -> None:
    new_secret = generate_secret(scheme)
    old_scheme_requests = [signed_request(i, status_body(i), "standard", generate_secret("standard")) for i in range(2)]
    whatsable_signed = [signed_request(2, incoming_body(2), "whatsable", OLD_SECRET)]
    path = write_recording(tmp_path / "rec.jsonl", [*old_scheme_requests, *whatsable_signed])
    with endpoints.serve(lambda r, _: endpoints.correct(scheme, new_secret, r)) as endpoint:
        run = replay(str(path), "--to", endpoint.url, "--secret", new_secret, "--scheme", scheme, "--json")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert [d["status"] for d in ndjson(run) if d["type"] == "delivery"] == [200, 200, 200]
    own = {h.lower() for h in SCHEMES[scheme].header_names}  # two schemes share X-Webhook-Signature
    other_headers = {h.lower() for s in SCHEMES.values() for h in s.header_names} - own
    for headers in endpoint.received.headers:
        assert not other_headers & set(lower_keys(headers)), "old signature headers must be replaced"
    if SCHEMES[scheme].timestamped:  # a fresh id per request, not the recorded one
        ids = [lower_keys(h)[SCHEMES[scheme].id_header or ""] for h in endpoint.received.headers]
        assert len(set(ids)) == 3
    assert new_secret not in run.stdout + run.stderr


def test_secret_from_the_environment_and_edit_are_signed_together_with_resign(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "rec.jsonl", [signed_request(1, status_body(1))])
    with endpoints.serve(lambda r, _: endpoints.correct("whatsable", "env-secret", r)) as endpoint:
        run = run_cli(
            "replay",
            str(path),
            "--to",
            endpoint.url,
            "--set",
            "data.status=read",
            "--resign",
            env={"WHATSABLE_SECRET": "env-secret"},
        )
    assert run.exit_code == 0, run.stderr
    assert json.loads(endpoint.received.bodies[0])["data"]["status"] == "read"
    assert "warning" not in run.stderr
    assert "1 request re-signed with the whatsable scheme, secret from WHATSABLE_SECRET (--resign)" in run.stderr


def test_an_exported_secret_alone_does_not_re_sign(tmp_path: Path) -> None:
    # An unsigned recording must not reach the app valid just because WHATSABLE_SECRET is exported.
    path = write_recording(tmp_path / "rec.jsonl", [recorded(1, status_body(1))])
    with endpoints.serve(lambda r, _: endpoints.correct("whatsable", "env-secret", r)) as endpoint:
        run = run_cli("replay", str(path), "--to", endpoint.url, env={"WHATSABLE_SECRET": "env-secret"})
    assert run.exit_code == 4  # the endpoint rightly rejects the unsigned request
    assert not any(k.lower() == "x-webhook-signature" for k in endpoint.received.headers[0])
    assert "re-signed" not in run.stderr


def test_a_secret_on_the_command_line_re_signs_and_says_so(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "rec.jsonl", [recorded(i, status_body(i)) for i in range(2)])
    with endpoints.serve(lambda r, _: endpoints.correct("whatsable", "cli-secret", r)) as endpoint:
        run = run_cli("replay", str(path), "--to", endpoint.url, "--secret", "cli-secret", "--json")
    assert run.exit_code == 0, run.stderr
    assert all(json.loads(line)["resigned"] for line in run.stdout.splitlines()[:-1])
    assert "2 requests re-signed with the whatsable scheme, secret from --secret (--resign)" in run.stderr


def test_resign_without_a_secret_is_bad_input(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "rec.jsonl", [recorded(1, status_body(1))])
    run = run_cli("replay", str(path), "--to", "http://127.0.0.1:9/x", "--resign")
    assert run.exit_code == 7
    assert "--resign needs a signing secret" in run.stderr


def test_edit_without_a_secret_warns_that_the_kept_signature_will_not_verify(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "rec.jsonl", [signed_request(i, status_body(i)) for i in range(3)])
    with endpoints.serve(lambda r, _: endpoints.correct("whatsable", OLD_SECRET, r)) as endpoint:
        run = replay(str(path), "--to", endpoint.url, "--set", "data.status=failed")
    assert run.exit_code == 4  # the endpoint rightly rejected the edited bodies
    assert run.stderr.count("warning:") == 1  # once, not once per request
    assert "--set edit" in run.stderr and "--resign" in run.stderr
    assert "warning ×3" in run.stdout
    assert all(json.loads(b)["data"]["status"] == "failed" for b in endpoint.received.bodies)


def test_unedited_replay_keeps_a_valid_signature_valid(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "rec.jsonl", [signed_request(1, status_body(1))])
    with endpoints.serve(lambda r, _: endpoints.correct("whatsable", OLD_SECRET, r)) as endpoint:
        run = replay(str(path), "--to", endpoint.url)
    assert run.exit_code == 0, run.stderr
    assert "warning" not in run.stderr


def test_stale_timestamped_signature_warns(tmp_path: Path) -> None:
    secret = generate_secret("standard")
    path = write_recording(tmp_path / "rec.jsonl", [signed_request(1, status_body(1), "standard", secret)])
    with endpoints.serve(lambda r, _: endpoints.correct("standard", secret, r)) as endpoint:
        run = replay(str(path), "--to", endpoint.url)
    assert run.exit_code == 4
    assert "stale" in run.stderr
    assert len(endpoint.received.bodies) == 1


def test_order_is_preserved_at_concurrency_one(tmp_path: Path) -> None:
    bodies = numbered_bodies(60)
    path = write_recording(tmp_path / "rec.jsonl", [recorded(i, b) for i, b in enumerate(bodies)])
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        run = replay(str(path), "--to", endpoint.url, "--json")
    assert run.exit_code == 0
    assert endpoint.received.bodies == bodies
    assert [d["index"] for d in ndjson(run) if d["type"] == "delivery"] == list(range(60))


def test_concurrency_delivers_everything_once(tmp_path: Path) -> None:
    bodies = numbered_bodies(80)
    path = write_recording(tmp_path / "rec.jsonl", [recorded(i, b) for i, b in enumerate(bodies)])
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        run = replay(str(path), "--to", endpoint.url, "--concurrency", "8", "--json")
    assert run.exit_code == 0
    assert sorted(endpoint.received.bodies) == sorted(bodies)
    summary = ndjson(run)[-1]
    assert summary["type"] == "summary"
    assert summary["sent"] == summary["passed"] == 80
    assert summary["by_status"] == {"200": 80}
    assert summary["latency_ms"]["p50"] <= summary["latency_ms"]["p95"] <= summary["latency_ms"]["p99"]


def test_sources_fixture_file_folder_and_recording_in_order(tmp_path: Path) -> None:
    pretty = tmp_path / "one.json"
    pretty.write_bytes(b'{\n  "event": "message_status",\n  "data": {"status": "read"}\n}\n')
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "b.json").write_bytes(b'{"event":"message_status","data":{"status":"sent"}}')
    (folder / "a.json").write_bytes(b'{"event":"message_status","data":{"status":"delivered"}}')
    (folder / "notes.txt").write_text("ignored: not a .json file")
    rec = write_recording(tmp_path / "rec.jsonl", [recorded(9, status_body(9, "failed"))])
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        run = replay("image", str(pretty), str(folder), str(rec), "--to", endpoint.url)
    assert run.exit_code == 0, run.stderr
    assert endpoint.received.bodies == [
        find_fixture("incoming_message/image").read_bytes(),
        pretty.read_bytes(),  # exactly the file, pretty-printing and trailing newline included
        (folder / "a.json").read_bytes(),
        (folder / "b.json").read_bytes(),
        status_body(9, "failed"),
    ]
    assert lower_keys(endpoint.received.headers[0])["content-type"] == "application/json"


def test_stdin_recording_and_stdin_ndjson_payloads(tmp_path: Path) -> None:
    rec = write_recording(tmp_path / "rec.jsonl", [recorded(i, b) for i, b in enumerate(numbered_bodies(3))])
    payloads = b"".join(b + b"\n" for b in numbered_bodies(2))
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        from_recording = replay("-", "--to", endpoint.url, input=rec.read_bytes())
        from_ndjson = replay("-", "--to", endpoint.url, input=payloads)
    assert from_recording.exit_code == 0 and from_ndjson.exit_code == 0, from_recording.stderr + from_ndjson.stderr
    assert endpoint.received.bodies == [*numbered_bodies(3), *numbered_bodies(2)]


def test_filters_select_what_is_replayed(tmp_path: Path) -> None:
    requests = [
        recorded(0, status_body(0, "delivered"), received_at="2026-11-25T10:00:00+00:00"),
        recorded(1, status_body(1, "read"), received_at="2026-11-25T11:00:00+00:00"),
        recorded(2, incoming_body(2, phone="8801734363287"), received_at="2026-11-25T12:00:00+00:00"),
        recorded(3, incoming_body(3, phone="15550001111"), received_at="2026-11-25T13:00:00+00:00"),
        recorded(4, status_body(4, "read"), received_at="2026-11-25T14:00:00+00:00"),
    ]
    path = write_recording(tmp_path / "rec.jsonl", requests)

    def sent_ids(*filters: str) -> list[str]:
        run = replay(str(path), "--to", "http://127.0.0.1:9/never", "--dry-run", "--json", *filters)
        assert run.exit_code == 0, run.stderr
        return [d["id"][:4] for d in ndjson(run) if d["type"] == "dry_run"]

    assert sent_ids("--event", "incoming_message") == ["0002", "0003"]
    assert sent_ids("--status", "read") == ["0001", "0004"]
    assert sent_ids("--status", "read,delivered", "--last", "2") == ["0001", "0004"]
    assert sent_ids("--where", "data.phone_number=8801734363287") == ["0002"]
    assert sent_ids("--since", "2026-11-25T11:30:00", "--until", "2026-11-25T13:00:00Z") == ["0002", "0003"]
    assert sent_ids("--id", "0003", "--id", "0000") == ["0000", "0003"]
    assert sent_ids("--last", "1") == ["0004"]


def test_dry_run_sends_nothing_and_redacts_signatures(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "rec.jsonl", [signed_request(1, status_body(1))])
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        run = replay(str(path), "--to", endpoint.url, "--dry-run")
        shown = replay(str(path), "--to", endpoint.url, "--dry-run", "--show-secrets", "--json")
    assert run.exit_code == 0
    assert endpoint.received.bodies == []
    assert "X-Webhook-Signature" in run.stdout
    recorded_signature = signed_request(1, status_body(1)).header("X-Webhook-Signature")
    assert recorded_signature is not None
    assert recorded_signature not in run.stdout
    assert [recorded_signature] == [v for k, v in ndjson(shown)[0]["headers"] if k == "X-Webhook-Signature"]


def test_replay_dry_run_shows_the_headers_that_would_be_sent(tmp_path: Path) -> None:
    # It showed the recorded Host and Content-Length, which replay (rightly) does not send.
    path = write_recording(tmp_path / "rec.jsonl", [recorded(1, status_body(1), [("Content-Length", "149")])])
    run = run_cli("replay", str(path), "--to", "http://127.0.0.1:9/hook", "--dry-run")
    assert run.exit_code == 0, run.stderr
    assert "Content-Type: application/json" in run.stdout
    assert "Host:" not in run.stdout and "Content-Length:" not in run.stdout


def test_corrupt_line_in_the_middle_is_skipped_and_named(tmp_path: Path) -> None:
    bodies = numbered_bodies(3)
    path = write_recording(tmp_path / "rec.jsonl", [recorded(i, b) for i, b in enumerate(bodies)])
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0] + b'{"type":"request","id":"trunc\n' + b"".join(lines[1:]))
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        run = replay(str(path), "--to", endpoint.url)
        strict = replay(str(path), "--to", endpoint.url, "--strict")
    assert run.exit_code == 0
    assert f"{path}:2" in run.stderr and "skipped" in run.stderr
    assert endpoint.received.bodies[:3] == bodies
    assert strict.exit_code == 7
    assert f"{path}:2" in strict.stderr
    assert endpoint.received.bodies[3:] == bodies[:1]  # what was read before the bad line still went out


def test_failed_answers_exit_4_and_stop_on_failure_stops(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "rec.jsonl", [recorded(i, b) for i, b in enumerate(numbered_bodies(5))])
    with endpoints.serve(lambda r, _: endpoints.always_500(r)) as endpoint:
        everything = replay(str(path), "--to", endpoint.url)
        stopped = replay(str(path), "--to", endpoint.url, "--stop-on-failure", "--json")
    assert everything.exit_code == 4
    assert "failed 5" in everything.stdout and "500 ×5" in everything.stdout
    assert stopped.exit_code == 4
    assert [d["status"] for d in ndjson(stopped) if d["type"] == "delivery"] == [500]
    assert ndjson(stopped)[-1]["stopped_early"] is True
    assert len(endpoint.received.bodies) == 6


def test_expect_and_unreachable_exit_codes(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "rec.jsonl", [recorded(0, status_body(0))])
    with endpoints.serve(lambda r, _: endpoints.status(202, r)) as endpoint:
        exact = replay(str(path), "--to", endpoint.url, "--expect", "200")
        either = replay(str(path), "--to", endpoint.url, "--expect", "200,202")
    assert exact.exit_code == 4
    assert either.exit_code == 0
    unreachable = replay(str(path), "--to", endpoints.closed_port_url(), "--json")
    assert unreachable.exit_code == 5
    assert ndjson(unreachable)[0]["error_code"] == "refused"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-such-thing"], "no such file, folder or fixture"),
        (["--secret", "not-base64!", "--scheme", "standard"], "not a Standard Webhooks key"),
    ],
)
def test_bad_input_is_one_line_and_exit_7(tmp_path: Path, args: list[str], message: str) -> None:
    path = write_recording(tmp_path / "rec.jsonl", [recorded(0, status_body(0))])
    run = replay(str(path), "--to", "http://127.0.0.1:9/x", *args)
    assert run.exit_code == 7
    assert message in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "fast"], "invalid --rate"),
        (["--expect", "ok"], "invalid --expect"),
        (["--since", "yesterday-ish"], "cannot read the time"),
        (["--where", "nothing"], "invalid --where"),
        (["--scheme", "nope", "--secret", "x"], "'nope' is not one of"),
        (["--concurrency", "0"], "Invalid value for '--concurrency' / '-c'"),
        (["--to", "localhost:3000/hook"], "is not an http(s) URL"),
    ],
)
def test_a_bad_option_value_is_a_usage_error(tmp_path: Path, args: list[str], message: str) -> None:
    path = write_recording(tmp_path / "rec.jsonl", [recorded(0, status_body(0))])
    run = replay(str(path), "--to", "http://127.0.0.1:9/x", *args)
    assert run.exit_code == 2
    assert message in " ".join(run.stderr.replace("│", " ").split())
    assert "Traceback" not in run.stderr


def test_replay_with_a_malformed_set_is_bad_input_before_anything_is_sent(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "rec.jsonl", [recorded(1, status_body(1))])
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        run = run_cli("replay", str(path), "--to", endpoint.url, "--set", "nodot")
    assert run.exit_code == 2, run.stdout + run.stderr
    assert "Invalid value for '--set': invalid --set 'nodot'" in " ".join(run.stderr.replace("│", " ").split())
    assert endpoint.received.bodies == []


def test_no_recording_at_all_is_a_clear_exit_7() -> None:
    run = replay("--to", "http://127.0.0.1:9/x")
    assert run.exit_code == 7
    assert "no recording found" in run.stderr and "whatsable listen" in run.stderr


def test_defaults_to_the_newest_recording(isolated_dirs: Path) -> None:
    folder = isolated_dirs / "data" / "recordings"
    folder.mkdir(parents=True)
    write_recording(folder / "20260101T000000_000000Z.jsonl", [recorded(0, numbered_bodies(1)[0])])
    write_recording(folder / "20260102T000000_000000Z.jsonl", [recorded(1, status_body(1, "read"))])
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        run = replay("--to", endpoint.url)
    assert run.exit_code == 0
    assert endpoint.received.bodies == [status_body(1, "read")]


def test_set_on_a_non_json_body_skips_it_with_a_warning(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "rec.jsonl", [recorded(0, b"\xffnot json"), recorded(1, status_body(1))])
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        run = replay(str(path), "--to", endpoint.url, "--set", "data.status=read", "--json")
    assert run.exit_code == 0
    assert "not JSON" in run.stderr and "skipped" in run.stderr
    assert len(endpoint.received.bodies) == 1
    assert ndjson(run)[-1]["skipped"] == 1


def test_a_request_recorded_without_its_body_is_warned_about_and_counted_as_skipped(tmp_path: Path) -> None:
    too_large = recorded(0, b"")
    too_large.body_omitted, too_large.body_size, too_large.event_type = True, 2_000_000, "too_large"
    path = write_recording(tmp_path / "rec.jsonl", [too_large, recorded(1, status_body(1))])
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        run = replay(str(path), "--to", endpoint.url, "--json")
        human = replay(str(path), "--to", endpoint.url)
        only_other = replay(str(path), "--to", endpoint.url, "--id", recorded(1, b"").id[:8], "--json")
    assert run.exit_code == 0 and len(endpoint.received.bodies) == 3
    assert f"request {too_large.id} was recorded without its body (over the size limit); skipped" in run.stderr
    summary = ndjson(run)[-1]
    assert (summary["selected"], summary["sent"], summary["skipped"]) == (2, 1, 1)
    assert "replayed 1 of 2 requests" in human.stdout and "skipped 1" in human.stdout
    # filtered out, it is neither warned about nor counted
    assert "without its body" not in only_other.stderr and ndjson(only_other)[-1]["skipped"] == 0


def test_an_id_that_matched_nothing_is_named_in_a_warning(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "rec.jsonl", [recorded(0, status_body(0)), recorded(1, status_body(1))])
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        run = replay(str(path), "--to", endpoint.url, "--id", recorded(1, b"").id[:6], "--id", "ffff99")
    assert run.exit_code == 0, run.stderr
    assert endpoint.received.bodies == [status_body(1)]
    assert "warning: --id matched no request: ffff99" in run.stderr


def test_ids_that_matched_nothing_at_all_are_bad_input_like_events_show(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "rec.jsonl", [recorded(0, status_body(0))])
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        run = replay(str(path), "--to", endpoint.url, "--id", "ffff99", "--id", "eeee")
    assert run.exit_code == 7 and endpoint.received.bodies == [] and run.stdout == ""
    assert "error: --id matched no request: ffff99, eeee; nothing to replay" in run.stderr
    assert "whatsable events list" in run.stderr and "Traceback" not in run.stderr


def test_subprocess_replay_from_stdin_pipe(tmp_path: Path) -> None:
    secret = generate_secret("svix")
    rec = write_recording(tmp_path / "rec.jsonl", [recorded(i, b) for i, b in enumerate(numbered_bodies(4))])
    env = {**os.environ, "WHATSABLE_SECRET": secret}
    with endpoints.serve(lambda r, _: endpoints.correct("svix", secret, r)) as endpoint:
        proc = subprocess.run(
            [sys.executable, "-m", "whatsable_cli", "replay", "-", "--to", endpoint.url, "--scheme=svix", "--resign"],
            input=rec.read_bytes(),
            capture_output=True,
            env=env,
            timeout=60,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr.decode()
    assert endpoint.received.bodies == numbered_bodies(4)
    for body, headers in zip(endpoint.received.bodies, endpoint.received.headers, strict=True):
        assert verify("svix", secret, body, headers).ok
    assert b"passed 4" in proc.stdout


def test_a_live_stdin_is_replayed_line_by_line_as_it_comes(tmp_path: Path) -> None:
    # `tail -f rec.jsonl | whatsable replay - -c 4`: waiting for the next line must not stall what is in flight.
    arrived = threading.Event()

    def noting(received: endpoints.Received, _: asyncio.Event) -> endpoints.Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            received.bodies.append(await request.read())
            arrived.set()
            return web.json_response({"ok": True})

        return handler

    rec = write_recording(tmp_path / "rec.jsonl", [recorded(i, b) for i, b in enumerate(numbered_bodies(2))])
    first, second = rec.read_bytes().splitlines(keepends=True)
    with endpoints.serve(noting) as endpoint:
        argv = [sys.executable, "-m", "whatsable_cli", "replay", "-", "--to", endpoint.url, "-c", "4"]
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdin is not None
        proc.stdin.write(first)
        proc.stdin.flush()
        sent_before_the_next_line = arrived.wait(30)
        out, err = proc.communicate(input=second, timeout=60)  # then the last line, and the end of stdin
    assert sent_before_the_next_line, "the first line was not sent while stdin stayed open"
    assert proc.returncode == 0, err.decode()
    assert endpoint.received.bodies == numbered_bodies(2)
    assert b"passed 2" in out


def test_ctrl_c_reports_what_was_sent_and_exits_130(tmp_path: Path) -> None:
    arrived = threading.Event()

    def stalling(received: endpoints.Received, release: asyncio.Event) -> endpoints.Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            received.bodies.append(await request.read())
            arrived.set()
            await release.wait()  # never answers before the server stops
            return web.Response()

        return handler

    path = write_recording(tmp_path / "rec.jsonl", [recorded(i, b) for i, b in enumerate(numbered_bodies(5))])
    with endpoints.serve(stalling) as endpoint:
        proc = subprocess.Popen(
            [sys.executable, "-m", "whatsable_cli", "replay", str(path), "--to", endpoint.url, "--timeout", "60"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            assert arrived.wait(30), "the first request never arrived"
            proc.send_signal(signal.SIGINT)
            stdout, stderr = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 130
    assert b"interrupted (Ctrl-C)" in stdout
    assert b"replayed 0 of " in stdout  # the stalled request never got an answer
    assert b"Traceback" not in stderr and b"Fatal Python error" not in stderr


@pytest.mark.parametrize("concurrency", ["1", "4"])
def test_ctrl_c_on_a_live_stdin_reports_what_was_sent_and_exits_130(tmp_path: Path, concurrency: str) -> None:
    # `tail -f rec.jsonl | whatsable replay -`: Ctrl-C comes while the reader waits for a line that never comes.
    # It used to abort the interpreter ("Fatal Python error: _enter_buffered_busy", exit 134): the reading
    # thread was left inside a buffered read of stdin at shutdown.
    rec = write_recording(tmp_path / "rec.jsonl", [recorded(0, status_body(0))])
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        argv = [sys.executable, "-m", "whatsable_cli", "replay", "-", "--to", endpoint.url, "-c", concurrency]
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(rec.read_bytes())
            proc.stdin.flush()  # and stdin stays open
            first = line_within(proc.stdout, 30)  # its delivery line: the first item was sent and answered
            proc.send_signal(signal.SIGINT)
            stdout, stderr = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert first.startswith("✓ 200".encode()), first
    assert b"Fatal Python error" not in stderr and b"Traceback" not in stderr, stderr.decode()
    assert proc.returncode == 130, stderr.decode()
    assert b"replayed 1 of 1 request to" in stdout and b"passed 1" in stdout
    assert b"interrupted (Ctrl-C)" in stdout
    assert endpoint.received.bodies == [status_body(0)]


def line_within(stream: IO[bytes], seconds: float) -> bytes:
    """The next line of a child's pipe, or a failure once `seconds` have passed without one."""
    deadline = time.monotonic() + seconds
    data = b""
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"no line within {seconds} s (got {data!r})"
        chunk = os.read(stream.fileno(), 1)  # one byte at a time: nothing past the line is taken from the pipe
        assert chunk, f"the pipe ended before a line (got {data!r})"
        data += chunk
    return data


def test_stop_on_failure_with_a_live_stdin_ends_without_waiting_for_more(tmp_path: Path) -> None:
    # the run stops at the first failure while the reader waits on an open stdin: it ends there, cleanly
    rec = write_recording(tmp_path / "rec.jsonl", [recorded(0, status_body(0))])
    with endpoints.serve(lambda r, _: endpoints.always_500(r)) as endpoint:
        argv = [sys.executable, "-m", "whatsable_cli", "replay", "-", "--to", endpoint.url, "--stop-on-failure"]
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdin is not None
        try:
            proc.stdin.write(rec.read_bytes())
            proc.stdin.flush()  # and stdin stays open: nothing but the failure ends the run
            proc.wait(timeout=30)
            stdout, stderr = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
        finally:
            proc.stdin.close()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert b"Fatal Python error" not in stderr and b"Traceback" not in stderr, stderr.decode()
    assert proc.returncode == 4
    assert b"stopped at the first failure" in stdout


def test_a_bad_payload_file_fails_before_anything_is_sent(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_bytes(status_body(1))
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"event": "message_status",\n "data": {')
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        run = replay(str(good), str(bad), "--to", endpoint.url)
    assert run.exit_code == 7
    assert f"{bad} is not a JSON payload" in run.stderr
    assert endpoint.received.bodies == []


def test_a_bad_line_in_ndjson_payloads_is_skipped_and_named(tmp_path: Path) -> None:
    first, second = numbered_bodies(2)
    payloads = tmp_path / "payloads.ndjson"
    payloads.write_bytes(first + b"\nnot json at all\n" + second + b"\n")
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        run = replay(str(payloads), "--to", endpoint.url)
        strict = replay(str(payloads), "--to", endpoint.url, "--strict")
    assert run.exit_code == 0
    assert f"{payloads}:2: not a JSON payload" in run.stderr
    assert endpoint.received.bodies[:2] == [first, second]
    assert strict.exit_code == 7 and f"{payloads}:2" in strict.stderr


def test_a_cookie_set_by_the_target_is_not_sent_with_the_next_requests(tmp_path: Path) -> None:
    # replay sends what was recorded: a session cookie the target set on one answer must not ride along later
    path = write_recording(tmp_path / "rec.jsonl", [recorded(i, b) for i, b in enumerate(numbered_bodies(3))])
    set_cookie = {"Set-Cookie": "session=abc123; Path=/"}
    with endpoints.serve(lambda r, _: endpoints.status(200, r, headers=set_cookie)) as endpoint:
        run = replay(str(path), "--to", endpoint.url.replace("127.0.0.1", "localhost"))  # a host cookies are kept for
    assert run.exit_code == 0, run.stdout + run.stderr
    assert len(endpoint.received.headers) == 3
    assert all("Cookie" not in headers for headers in endpoint.received.headers)


def test_a_recorded_header_that_cannot_be_sent_as_recorded_is_skipped_with_a_warning(tmp_path: Path) -> None:
    smuggled = recorded(1, status_body(1), [("X-A", "b\r\nX-Evil: 1")])
    unencodable = recorded(2, status_body(2), [("X-B", "LONE")])
    non_utf8 = recorded(3, status_body(3), [("X-C", "NONUTF8")])
    nul = recorded(4, status_body(4), [("X-D", "a\x00b")])
    fine = recorded(5, status_body(5), [("X-E", "café\tok")])
    as_listen_records_it = recorded(6, status_body(6), [("X-F", "caf\udce9")])  # byte 0xE9, marked in base64
    path = write_recording(
        tmp_path / "rec.jsonl",
        [recorded(0, status_body(0)), smuggled, unencodable, non_utf8, nul, fine, as_listen_records_it],
    )
    # JSON escapes a hand edit can put in: a lone surrogate (no bytes for it), and byte 0xE9 as a header that was
    # not UTF-8 reads back: aiohttp writes header text as UTF-8 only, so it cannot be sent as it was
    path.write_bytes(path.read_bytes().replace(b"LONE", b"\\ud800").replace(b"NONUTF8", b"caf\\udce9"))
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        run = replay(str(path), "--to", endpoint.url)
    assert run.exit_code == 0, run.stderr
    assert "a line break in the header 'X-A'" in run.stderr and "cannot be encoded ('X-B')" in run.stderr
    assert "bytes that are not UTF-8 in the header 'X-C'" in run.stderr
    assert "a control character in the header 'X-D'" in run.stderr
    assert "bytes that are not UTF-8 in the header 'X-F'" in run.stderr
    assert "Traceback" not in run.stderr
    assert "skipped 5" in run.stdout
    assert endpoint.received.bodies == [status_body(0), status_body(5)]
    assert endpoint.received.headers[1]["X-E"] == "café\tok"


def test_credentials_in_the_url_and_a_recorded_authorization_fail_each_request_without_sending(
    tmp_path: Path,
) -> None:
    path = write_recording(tmp_path / "rec.jsonl", [recorded(0, status_body(0), [("Authorization", "Bearer t")])])
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        run = replay(str(path), "--to", endpoint.url.replace("http://", "http://user:pw@"), "--json")
    assert run.exit_code == 4, run.stderr
    delivery = ndjson(run)[0]
    assert delivery["error_code"] == "unsendable" and delivery["error"].startswith("cannot send: ")
    assert ndjson(run)[-1]["sent"] == 0 and ndjson(run)[-1]["failed"] == 1
    assert endpoint.received.bodies == []
