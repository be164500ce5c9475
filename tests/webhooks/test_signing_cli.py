"""Signature defects seen from the command line: malformed timestamps, empty and unpadded keys, secret checks."""

from __future__ import annotations

import base64
import json
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.helpers import run_cli
from tests.support.listen_helpers import READY, free_port, read_line_matching, spawn_listener
from whatsable_cli.webhooks.signing import sign

STD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
UNPADDED_SECRET = "whsec_" + base64.b64encode(bytes(range(40, 72))).decode().rstrip("=")  # 32 bytes, one '=' off
OFFICIAL_BODY = b'{"test": 2432232314}'
OFFICIAL_HEADERS = [
    "webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek",
    "webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
]
ENVELOPE = b'{"event":"message_status","data":{"message_id":"wamid.1","status":"read"}}'
LISTEN_DEADLINE_S = 20


@pytest.fixture
def body_file(tmp_path: Path) -> Path:
    path = tmp_path / "body.json"
    path.write_bytes(OFFICIAL_BODY)
    return path


def post_raw(url: str, head_lines: list[bytes], body: bytes) -> tuple[int, dict[str, object]]:
    """POST over a raw socket, so header bytes go out exactly as given; returns the status and the JSON answer."""
    host_port = url.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    request = b"\r\n".join(
        [
            b"POST /webhook HTTP/1.1",
            b"Host: " + host_port.encode(),
            b"Content-Type: application/json",
            b"Content-Length: %d" % len(body),
            b"Connection: close",
            *head_lines,
            b"",
            b"",
        ]
    )
    with socket.create_connection((host, int(port)), timeout=LISTEN_DEADLINE_S) as sock:
        sock.sendall(request + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    payload = answer[answer.index(b"{") : answer.rindex(b"}") + 1]
    return status, json.loads(payload)


def stop(proc: subprocess.Popen[bytes]) -> str:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=LISTEN_DEADLINE_S)
    assert proc.stderr is not None
    return proc.stderr.read().decode()


# -- verify ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("timestamp", ["²", "9" * 400, "-1614265330", "1614 265330", ""])
def test_verify_with_a_malformed_timestamp_exits_3_with_the_reason(body_file: Path, timestamp: str) -> None:
    headers = [arg for line in OFFICIAL_HEADERS for arg in ("-H", line)]
    run = run_cli(
        "verify", str(body_file), *headers, "-H", f"webhook-timestamp: {timestamp}", "--secret", STD_SECRET, "--json"
    )
    assert run.exit_code == 3, run.stderr
    verdict = json.loads(run.stdout)
    assert verdict["reason"] == "malformed_header"
    assert "webhook-timestamp" in verdict["detail"]


@pytest.mark.parametrize("scheme", ["standard", "auto", "whatsable"])
def test_verify_refuses_an_empty_whsec_key_with_exit_7(body_file: Path, scheme: str) -> None:
    headers = [arg for line in OFFICIAL_HEADERS for arg in ("-H", line)]
    run = run_cli(
        "verify", str(body_file), *headers, "-H", "webhook-timestamp: 1614265330", "--secret", "whsec_",
        "--scheme", scheme,
    )  # fmt: skip
    assert run.exit_code == 7
    assert "error: the secret is empty" in run.stderr
    assert "hint:" in run.stderr
    assert run.stdout == ""  # refused before any verdict


def test_verify_accepts_an_unpadded_key(body_file: Path) -> None:
    headers = sign("standard", UNPADDED_SECRET, OFFICIAL_BODY, msg_id="msg_unpadded", timestamp=1_700_000_000)
    args = [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]
    run = run_cli("verify", str(body_file), *args, "--secret", UNPADDED_SECRET, "--at", "1700000000")
    assert run.exit_code == 0, run.stdout + run.stderr


# -- listen ---------------------------------------------------------------------------------------------------
def test_listen_answers_401_to_a_forged_event_with_a_malformed_timestamp(tmp_path: Path) -> None:
    with (tmp_path / "stdout").open("wb") as stdout:
        proc, url = spawn_listener(
            "--no-record", "--scheme", "standard", "--secret", STD_SECRET, "--require-signature", stdout=stdout
        )
    try:
        for timestamp in ["²".encode(), b"9" * 400, b"-5", b"", b"1614 265330"]:
            forged = [b"webhook-id: msg_forged", b"webhook-timestamp: " + timestamp, b"webhook-signature: v1,AAAA"]
            status, answer = post_raw(url, forged, ENVELOPE)
            assert (status, answer.get("signature")) == (401, "malformed_header"), (timestamp, answer)
    finally:
        stop(proc)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="too-deep"),
        pytest.param(b'{"a": "\\ud800"}', id="lone-surrogate"),
    ],
)
def test_listen_answers_401_to_a_forged_hostile_body(tmp_path: Path, body: bytes) -> None:
    with (tmp_path / "stdout").open("wb") as stdout:
        proc, url = spawn_listener(
            "--no-record", "--max-body", "1MiB", "--secret", "the real secret", "--require-signature", stdout=stdout
        )
    try:
        forged = [f"{k}: {v}".encode() for k, v in sign("whatsable", "a guessed secret", body).items()]
        status, answer = post_raw(url, forged, body)
        # JSON nested deeper than Python's parser goes is answered as a body it cannot read (400), before any
        # signature is looked at, as every unreadable body is; either way it is refused, never a 2xx or a 500
        expected = (400, "not_json") if body.startswith(b"[[") else (401, "signature_required")
        assert (status, answer.get("error")) == expected, answer
    finally:
        stop(proc)


def test_listen_verifies_requests_signed_with_an_unpadded_key(tmp_path: Path) -> None:
    with (tmp_path / "stdout").open("wb") as stdout:
        proc, url = spawn_listener(
            "--no-record", "--scheme", "standard", "--secret", UNPADDED_SECRET, "--require-signature", stdout=stdout
        )
    try:
        signed = [f"{name}: {value}".encode() for name, value in sign("standard", UNPADDED_SECRET, ENVELOPE).items()]
        assert post_raw(url, signed, ENVELOPE)[0] == 200
    finally:
        stop(proc)


def run_listen(*args: str) -> subprocess.CompletedProcess[str]:
    """`listen` on a port this test holds: an error about the secret proves it came before the bind."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = str(held.getsockname()[1])
        return subprocess.run(
            [sys.executable, "-m", "whatsable_cli", "listen", "--no-tunnel", "--no-record", "--port", port, *args],
            capture_output=True,
            text=True,
            timeout=LISTEN_DEADLINE_S,
            check=False,
        )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scheme", "standard", "--secret", "not base64!"], "error: the secret is not a Standard Webhooks key"),
        (["--scheme", "svix", "--secret", "whsec_@@@@"], "error: the secret is not a Standard Webhooks key"),
        (["--secret", "whsec_"], "error: the secret is empty"),
        (["--scheme", "standard", "--secret", "whsec_"], "error: the secret is empty"),
    ],
)
def test_listen_refuses_a_secret_that_cannot_work_before_binding(args: list[str], message: str) -> None:
    done = run_listen(*args)
    assert done.returncode == 7, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0].startswith(message)
    assert lines[1].startswith("hint: ")
    assert "address already in use" not in done.stderr.lower()
    assert "Traceback" not in done.stderr


def test_listen_auto_with_a_plain_secret_warns_once_at_start(tmp_path: Path) -> None:
    plain = "whatsable-plain_secret"  # base64url, as WhatsAble shows secrets: no Standard Webhooks key
    warned = re.compile(r"^(warning: .*webhook-signature or svix-signature cannot be verified with it)")
    with (tmp_path / "stdout").open("wb") as stdout:
        proc, warning = spawn_listener("--no-record", "--secret", plain, stdout=stdout, ready=warned)
    try:
        assert proc.stderr is not None
        url = read_line_matching(proc.stderr, READY).group(1)  # the warning came before serving
        for _ in range(3):
            signed = [f"{name}: {value}".encode() for name, value in sign("standard", STD_SECRET, ENVELOPE).items()]
            assert post_raw(url, signed, ENVELOPE)[0] == 200  # still answered: only --require-signature refuses
    finally:
        rest = stop(proc)
    assert "cannot be verified with it" not in rest  # once, not per request
    assert plain not in warning + rest


# -- the other commands refuse an empty key before sending anything --------------------------------------------
def test_send_test_refuses_an_empty_key_before_sending() -> None:
    url = f"http://127.0.0.1:{free_port()}/webhook"  # nothing listens: sending anything would be exit 5
    run = run_cli("send-test", url, "--scheme", "standard", "--secret", "whsec_")
    assert run.exit_code == 7
    assert "error: the secret is empty" in run.stderr


def test_replay_refuses_an_empty_key_before_sending(tmp_path: Path) -> None:
    body = tmp_path / "event.json"
    body.write_bytes(ENVELOPE)
    url = f"http://127.0.0.1:{free_port()}/webhook"
    run = run_cli("replay", str(body), "--to", url, "--scheme", "standard", "--secret", "whsec_")
    assert run.exit_code == 7
    assert "error: the secret is empty" in run.stderr
