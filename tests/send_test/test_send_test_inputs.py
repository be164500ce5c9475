"""send-test's inputs and outputs: dry-run (checked by `whatsable verify`), golden vector, JUnit (none from an
interrupted run), bad input."""

from __future__ import annotations

import json
import socket
import ssl
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import endpoints
from tests.support.helpers import run_cli
from whatsable_cli.delivery.results import DNS, REFUSED, TLS
from whatsable_cli.send_test import service
from whatsable_cli.send_test.sender import classify

# A golden vector: the `whatsable` scheme (hex HMAC-SHA256) over the seed page's 126-byte envelope.
GOLDEN_BODY = (
    b'{"event":"message_status","data":{"message_id":"wamid.123456789","status":"delivered",'
    b'"timestamp":"2024-03-23T21:41:44.477Z"}}'
)
GOLDEN_SECRET = "test_signature_secret"
GOLDEN_SIGNATURE = "6ecbc27ad2de17fc5c5d9eb9e3a4759288a4915a7f88ad9fa54b3b8335903edf"


def dry_run_requests(*args: str, input: str | bytes | None = None) -> list[dict[str, Any]]:
    run = run_cli("send-test", "http://127.0.0.1:9/hook", "--dry-run", "--json", *args, input=input)
    assert run.exit_code == 0, run.stderr
    requests: list[dict[str, Any]] = json.loads(run.stdout)["requests"]
    return requests


@pytest.mark.parametrize("scheme", ["whatsable", "standard", "svix"])
def test_dry_run_signature_is_accepted_by_verify(scheme: str, tmp_path: Path) -> None:
    secret = run_cli("secret", "generate", "--scheme", scheme).stdout.strip()
    requests = dry_run_requests("--secret", secret, "--scheme", scheme, "--show-secrets")
    first = requests[0]
    assert (first["method"], first["url"], first["check"]) == ("POST", "http://127.0.0.1:9/hook", "deliver")
    body = tmp_path / "body.json"
    body.write_bytes(first["body"].encode())
    headers = [f"-H{name}: {value}" for name, value in first["headers"]]
    verified = run_cli("verify", str(body), *headers, "--secret", secret)
    assert verified.exit_code == 0, verified.stdout + verified.stderr
    tampered = next(r for r in requests if r["check"] == "tampered body")
    body.write_bytes(tampered["body"].encode())
    rejected = run_cli("verify", str(body), *[f"-H{n}: {v}" for n, v in tampered["headers"]], "--secret", secret)
    assert rejected.exit_code == 3


def test_dry_run_redacts_signatures_unless_asked_and_sends_nothing() -> None:
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        run = run_cli("send-test", endpoint.url, "--dry-run", "--secret", "s3cret")
    assert run.exit_code == 0
    assert endpoint.received.bodies == []
    assert f"POST {endpoint.url}\n" in run.stdout
    assert "X-Webhook-Signature: " in run.stdout and "(64 chars)" in run.stdout
    assert "--show-secrets" in run.stderr
    assert "s3cret" not in run.stdout + run.stderr


def test_golden_vector_body_file_is_signed_and_sent_byte_for_byte(tmp_path: Path) -> None:
    source = tmp_path / "golden.json"
    source.write_bytes(GOLDEN_BODY)
    requests = dry_run_requests("--body-file", str(source), "--secret", GOLDEN_SECRET, "--show-secrets")
    assert dict(requests[0]["headers"])["X-Webhook-Signature"] == GOLDEN_SIGNATURE
    with endpoints.serve(lambda r, _: endpoints.correct("whatsable", GOLDEN_SECRET, r)) as endpoint:
        run = run_cli("send-test", endpoint.url, "--body-file", "-", "--secret", GOLDEN_SECRET, input=GOLDEN_BODY)
    assert run.exit_code == 0, run.stdout
    assert endpoint.received.bodies[0] == GOLDEN_BODY
    assert endpoint.received.headers[0]["X-Webhook-Signature"] == GOLDEN_SIGNATURE


def test_json_report_and_junit_xml(tmp_path: Path) -> None:
    junit = tmp_path / "reports" / "send-test.xml"
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        run = run_cli("send-test", endpoint.url, "--secret", "s3cret", "--json", "--junit", str(junit))
    assert run.exit_code == 4
    report = json.loads(run.stdout)
    assert report["exit_code"] == 4 and report["summary"]["fail"] == 4
    root = ET.parse(junit).getroot()  # noqa: S314 (our own output)
    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert int(suite.get("tests", "")) == len(cases) == report["summary"]["total"]
    failures = [c for c in cases if c.find("failure") is not None]
    assert int(suite.get("failures", "")) == len(failures) == 4
    failure = failures[0].find("failure")
    assert failure is not None and failure.get("type") == "forgery_accepted"
    assert "accepted a forged event" in (failure.get("message") or "")
    assert failures[0].get("classname") == "send-test.security"


def test_junit_marks_unreachable_as_error_and_skipped(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    run = run_cli("send-test", endpoints.closed_port_url(), "--junit", str(junit))
    assert run.exit_code == 5
    suite = ET.parse(junit).getroot().find("testsuite")  # noqa: S314 (our own output)
    assert suite is not None
    assert suite.get("errors") == "1" and int(suite.get("skipped", "0")) >= 1


def test_an_unwritable_junit_path_fails_before_anything_is_sent(tmp_path: Path) -> None:
    folder = tmp_path / "report.xml"
    folder.mkdir()  # a folder where the file should go (root may write anywhere, so not a chmod)
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        run = run_cli("send-test", endpoint.url, "--junit", str(folder))
    assert run.exit_code == 7
    assert "cannot write the JUnit report" in run.stderr and "--junit" in run.stderr
    assert endpoint.received.bodies == []


def test_send_test_interrupted_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(service, "run_send_test", interrupted)
    run = run_cli("send-test", "http://127.0.0.1:9/", "--junit", str(tmp_path / "r.xml"))
    assert run.exit_code == 130
    assert "interrupted (Ctrl-C): the checks did not finish; no report and no JUnit file" in run.stderr
    assert not (tmp_path / "r.xml").exists()


def test_fixture_by_name_and_path_with_set(tmp_path: Path) -> None:
    custom = tmp_path / "custom.json"
    custom.write_text('{"event":"message_status","data":{"message_id":"wamid.X","status":"sent"}}')
    requests = dry_run_requests("--fixture", "image", "--fixture", str(custom), "--set", 'data.extra={"a":1}')
    deliveries = [r for r in requests if r["check"] == "deliver"]
    assert [r["request"] for r in deliveries] == ["image", str(custom)]
    assert json.loads(deliveries[0]["body"])["data"]["message_type"] == "image"
    assert json.loads(deliveries[1]["body"])["data"]["extra"] == {"a": 1}


def test_seed_reproduces_the_same_bytes() -> None:
    def bodies() -> list[str]:
        return [r["body"] for r in dry_run_requests("--seed", "7", "--status", "failed")]

    assert bodies() == bodies()
    assert json.loads(bodies()[0])["data"]["status"] == "failed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--fixture", "nope"), "valid names: message_status/sent"),
        (("--body-file", "/nonexistent/body.json"), "cannot read body file"),
        (("--scheme", "standard", "--secret", "not base64!"), "not a Standard Webhooks key"),
        (("--event", "message_status", "--content-type", "image"), "--content-type applies to incoming_message"),
        (("--body-file", "-", "--fixture", "image"), "choose one of"),
    ],
)
def test_bad_input_exits_7_with_one_line_and_hint(args: tuple[str, ...], message: str) -> None:
    run = run_cli("send-test", "http://127.0.0.1:9/hook", *args)
    assert run.exit_code == 7, run.stderr
    assert message in run.stderr
    lines = run.stderr.strip().splitlines()
    assert lines[0].startswith("error: ") and lines[1].startswith("hint: ")
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--event", "message_sent"), "'message_sent' is not one of 'message_status', 'incoming_message'"),
        (("--status", "seen"), "'seen' is not one of 'sent', 'delivered', 'read', 'failed'"),
        (("--content-type", "gif"), "'gif' is not one of 'text'"),
        (("--set", "data..status=x"), "invalid --set"),
        (("-H", "no colon here"), "malformed header"),
        (("--expect", "3xx"), "invalid --expect"),
        (("--scheme", "github"), "'github' is not one of"),
    ],
)
def test_a_bad_option_value_is_a_usage_error(args: tuple[str, ...], message: str) -> None:
    run = run_cli("send-test", "http://127.0.0.1:9/hook", *args)
    assert run.exit_code == 2, run.stderr
    said = " ".join(run.stderr.replace("│", " ").split())  # click's error box, unwrapped
    assert f"Invalid value for '{args[0]}'" in said and message in said
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("url", ["localhost:8000/hook", "ftp://example.com/hook", "http://", "not a url"])
def test_an_invalid_url_is_a_usage_error(url: str) -> None:
    run = run_cli("send-test", url)
    assert run.exit_code == 2
    said = " ".join(run.stderr.replace("│", " ").split())
    assert f"Invalid value for 'URL': URL {url!r} is not an http(s) URL" in said


def test_tls_error_is_classified() -> None:
    with endpoints.serve(lambda r, _: endpoints.status(200, r)) as endpoint:
        https_url = endpoint.url.replace("http://", "https://")
        run = run_cli("send-test", https_url, "--json")
    assert run.exit_code == 5
    first = json.loads(run.stdout)["checks"][0]
    assert first["code"] == TLS and first["message"].startswith("TLS error with 127.0.0.1")


def test_failure_classification_from_the_cause_chain() -> None:
    def wrapped(cause: BaseException) -> httpx.ConnectError:
        try:
            raise httpx.ConnectError("boom") from cause
        except httpx.ConnectError as exc:
            return exc

    url = "http://example.invalid:8080/hook"
    assert classify(wrapped(socket.gaierror(-2, "Name or service not known")), url, 10)[0] == DNS
    assert classify(wrapped(ConnectionRefusedError(111, "refused")), url, 10) == (
        REFUSED,
        "connection refused by example.invalid:8080",
    )
    assert classify(wrapped(ssl.SSLCertVerificationError("bad cert")), url, 10)[0] == TLS
