"""`whatsable send-test` against real loopback endpoints: a correct one per scheme, and one per defect."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support import endpoints
from tests.support.helpers import Run, run_cli
from whatsable_cli.webhooks.signing import generate_secret

SCHEMES = ("whatsable", "standard", "svix")


def send_test(url: str, *args: str, input: str | bytes | None = None) -> Run:
    return run_cli("send-test", url, *args, input=input)


def json_report(run: Run) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(run.stdout)
    return report


def failing(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in report["checks"] if c["verdict"] in ("fail", "unreachable")]


def sent(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The checks that sent a request (skipped ones are reported too, with verdict "skipped")."""
    return [c for c in report["checks"] if c["verdict"] != "skipped"]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_correct_endpoint_passes_every_check(scheme: str) -> None:
    secret = generate_secret(scheme)
    with endpoints.serve(lambda r, _: endpoints.correct(scheme, secret, r)) as endpoint:
        run = send_test(endpoint.url, "--secret", secret, "--scheme", scheme, "--json")
    assert run.exit_code == 0, run.stdout + run.stderr
    report = json_report(run)
    assert report["passed"] and report["scheme"] == scheme
    groups = {c["group"] for c in report["checks"]}
    assert groups == {"delivery", "security", "idempotency", "ordering"}
    forged = [c for c in sent(report) if c["group"] == "security"]
    assert len(forged) == (6 if scheme != "whatsable" else 4)
    assert all(c["status"] == 401 and c["verdict"] == "pass" for c in forged)
    # what the scheme cannot check is reported skipped, not left out
    skipped = [c["check"] for c in report["checks"] if c["verdict"] == "skipped"]
    assert skipped == ([] if scheme != "whatsable" else ["stale timestamp", "future timestamp"])
    assert report["summary"]["skipped"] == len(skipped)
    delivered = [c for c in report["checks"] if c["group"] == "delivery"]
    assert [c["request"] for c in delivered] == ["message_status/delivered", "incoming_message/text"]
    assert all(c["connect_ms"] is not None and c["total_ms"] >= c["connect_ms"] for c in delivered)
    assert "can't be seen from outside" in report["checks"][-3]["hint"]
    assert len(endpoint.received.bodies) == report["summary"]["total"] - report["summary"]["skipped"]


def test_table_and_summary_on_a_passing_run() -> None:
    with endpoints.serve(lambda r, _: endpoints.correct("whatsable", "s3cret", r)) as endpoint:
        run = send_test(endpoint.url, "--secret", "s3cret")
    assert run.exit_code == 0
    assert "tampered body" in run.stdout and "✓ pass" in run.stdout
    assert "- skipped" in run.stdout  # the replay checks the whatsable scheme cannot run
    assert run.stdout.strip().splitlines()[-1].startswith("PASS: 12 checks")
    assert "10 passed, 2 skipped" in run.stdout


def test_endpoint_without_verification_accepts_forged_events() -> None:
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        run = send_test(endpoint.url, "--secret", "s3cret", "--json")
    assert run.exit_code == 4
    failed = failing(json_report(run))
    assert {c["check"] for c in failed} == {"tampered body", "wrong secret", "no signature", "malformed signature"}
    assert all(c["code"] == "forgery_accepted" for c in failed)
    assert "your endpoint accepted a forged event (body changed after signing" in failed[0]["message"]


def test_stale_and_future_timestamps_must_be_rejected() -> None:
    secret = generate_secret("standard")

    def ignores_timestamps(received: endpoints.Received, _: Any) -> endpoints.Handler:
        # Verifies the HMAC but with an infinite tolerance: a replayed request gets through.
        async def handler(request: Any) -> Any:
            from aiohttp import web

            from whatsable_cli.webhooks.signing import verify

            body = await request.read()
            ok = verify("standard", secret, body, request.headers, tolerance=10**9).ok
            return web.Response(status=200 if ok else 401)

        return handler

    with endpoints.serve(ignores_timestamps) as endpoint:
        run = send_test(endpoint.url, "--secret", secret, "--scheme", "standard", "--json")
    assert run.exit_code == 4
    assert {c["check"] for c in failing(json_report(run))} == {"stale timestamp", "future timestamp"}


def test_always_500_fails_validation() -> None:
    with endpoints.serve(lambda r, _: endpoints.always_500(r)) as endpoint:
        run = send_test(endpoint.url, "--secret", "s3cret", "--json")
    assert run.exit_code == 4
    report = json_report(run)
    first = report["checks"][0]
    assert first["verdict"] == "fail" and first["status"] == 500
    assert first["message"] == "answered 500, expected 2xx"
    assert first["response_snippet"] == "Internal Server Error"
    security = [c for c in sent(report) if c["group"] == "security"]
    assert all(c["verdict"] == "warn" and c["code"] == "rejected_with_5xx" for c in security)


def test_endpoint_slower_than_the_timeout_is_unreachable() -> None:
    with endpoints.serve(lambda r, release: endpoints.slower_than_timeout("whatsable", "s3cret", r, release)) as ep:
        run = send_test(
            ep.url,
            "--secret",
            "s3cret",
            "--timeout",
            "0.3",
            "--event",
            "message_status",
            "--no-semantics-checks",
            "--json",
        )
    assert run.exit_code == 5
    report = json_report(run)
    first = report["checks"][0]
    assert first["verdict"] == "unreachable" and first["code"] == "timeout"
    assert first["message"] == "timed out after 0.3 s waiting for the answer"
    assert "answer 2xx first" in first["hint"]
    # The forgeries were rejected at once: the run went on after a timeout.
    assert all(c["verdict"] == "pass" for c in sent(report) if c["group"] == "security")


def test_redirect_is_a_failure_and_not_followed() -> None:
    with endpoints.serve(lambda r, _: endpoints.redirects(r)) as endpoint:
        run = send_test(endpoint.url, "--json", "--no-semantics-checks")
    assert run.exit_code == 4
    report = json_report(run)
    assert {c["code"] for c in sent(report)} == {"redirect"}
    assert "redirected (308 to /webhooks/whatsable/)" in report["checks"][0]["message"]
    assert len(endpoint.received.bodies) == 2  # one per event: the Location was never requested


def test_endpoint_rejecting_duplicates_fails_idempotency() -> None:
    with endpoints.serve(lambda r, _: endpoints.rejects_duplicates("whatsable", "s3cret", r)) as endpoint:
        run = send_test(endpoint.url, "--secret", "s3cret", "--json")
    assert run.exit_code == 4
    [failed] = failing(json_report(run))
    assert failed["check"] == "duplicate, 2nd delivery"
    assert failed["message"] == "rejected the same event delivered again: answered 409, expected 2xx"
    assert endpoint.received.bodies[-3] == endpoint.received.bodies[-4]  # byte-identical redelivery


def test_closed_port_is_unreachable_and_stops_the_run() -> None:
    run = send_test(endpoints.closed_port_url(), "--secret", "s3cret", "--json")
    assert run.exit_code == 5
    report = json_report(run)
    assert report["checks"][0]["code"] == "refused"
    assert report["checks"][0]["message"].startswith("connection refused by 127.0.0.1:")
    assert {c["verdict"] for c in report["checks"][1:]} == {"skipped"}


def test_retryable_status_reports_retry_after() -> None:
    with endpoints.serve(lambda r, _: endpoints.status(503, r, {"Retry-After": "30"})) as endpoint:
        run = send_test(endpoint.url, "--event", "incoming_message", "--no-semantics-checks", "--json")
    assert run.exit_code == 4
    [check] = sent(json_report(run))
    assert check["code"] == "retryable" and check["retry_after"] == "30"
    assert "answered 503 (retryable, Retry-After: 30)" in check["message"]


def test_expect_exact_status() -> None:
    with endpoints.serve(lambda r, _: endpoints.status(202, r)) as endpoint:
        accepted = send_test(endpoint.url, "--no-semantics-checks", "--json")
        exact = send_test(endpoint.url, "--no-semantics-checks", "--expect", "200", "--json")
    assert accepted.exit_code == 0
    assert exact.exit_code == 4
    assert json_report(exact)["checks"][0]["message"] == "answered 202, expected 200"


def test_max_latency_fails_a_slow_answer() -> None:
    with endpoints.serve(lambda r, _: endpoints.status(200, r)) as endpoint:
        run = send_test(endpoint.url, "--no-semantics-checks", "--max-latency", "0", "--json")
    assert run.exit_code == 4
    assert {c["code"] for c in sent(json_report(run))} == {"too_slow"}


def test_without_a_secret_security_checks_are_skipped_and_said_so() -> None:
    with endpoints.serve(lambda r, _: endpoints.no_verification(r)) as endpoint:
        run = send_test(endpoint.url, "--json")
    assert run.exit_code == 0
    report = json_report(run)
    assert not report["signed"]
    security = [c for c in report["checks"] if c["group"] == "security"]
    assert security and {c["verdict"] for c in security} == {"skipped"}
    assert security[0]["message"] == "not sent: no secret, so nothing to forge"
    assert "security checks skipped: no secret" in run.stderr
    assert not any(k.lower() == "x-webhook-signature" for k in endpoint.received.headers[0])


def test_repeat_all_variants_and_extra_headers() -> None:
    with endpoints.serve(lambda r, _: endpoints.correct("whatsable", "s3cret", r)) as endpoint:
        run = send_test(
            endpoint.url,
            *("--secret", "s3cret", "--all-variants", "--event", "message_status", "--repeat", "2"),
            *("-H", "X-Env: ci", "--no-security-checks", "--json"),
        )
    assert run.exit_code == 0, run.stdout
    requests = [c["request"] for c in json_report(run)["checks"] if c["group"] == "delivery"]
    assert requests[:2] == ["message_status/sent #1", "message_status/sent #2"]
    assert len(requests) == 8
    assert all(h["X-Env"] == "ci" for h in endpoint.received.headers)
    assert len(set(endpoint.received.bodies[:8])) == 8  # fresh ids every time


def test_ordering_check_sends_read_then_delivered_for_one_message() -> None:
    with endpoints.serve(lambda r, _: endpoints.correct("whatsable", "s3cret", r)) as endpoint:
        run = send_test(endpoint.url, "--secret", "s3cret", "--no-security-checks", "--json")
    assert run.exit_code == 0
    read, delivered = (json.loads(b)["data"] for b in endpoint.received.bodies[-2:])
    assert (read["status"], delivered["status"]) == ("read", "delivered")
    assert read["message_id"] == delivered["message_id"]


def test_end_to_end_as_a_subprocess(tmp_path: Path) -> None:
    junit = tmp_path / "send-test.xml"
    secret = generate_secret("svix")
    with endpoints.serve(lambda r, _: endpoints.correct("svix", secret, r)) as endpoint:
        done = subprocess.run(
            [sys.executable, "-m", "whatsable_cli", "send-test", endpoint.url, "--junit", str(junit)],
            env={**os.environ, "WHATSABLE_SECRET": secret, "WHATSABLE_SCHEME": "svix", "COLUMNS": "120"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("PASS: 12 checks")
    assert secret not in done.stdout + done.stderr
    assert 'failures="0"' in junit.read_text()
