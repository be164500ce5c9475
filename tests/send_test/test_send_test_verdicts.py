"""send-test's verdict rules without the network: latency warnings, forgeries, retryable answers, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import endpoints
from tests.support.helpers import run_cli
from whatsable_cli.errors import ExitCode
from whatsable_cli.send_test.sender import Exchange
from whatsable_cli.send_test.verdicts import Check, Criteria, Expect, Outcome, Report, Verdict, judge

DELIVERY = Check("delivery", "deliver", "message_status/delivered")
FORGERY = Check("security", "wrong secret", "message_status/delivered", Expect.REJECT, "signed with another secret")


def answer(status: int, total_ms: float = 12.0, headers: list[tuple[str, str]] | None = None) -> Exchange:
    return Exchange(status=status, headers=headers or [], total_ms=total_ms, connect_ms=1.0)


def test_slow_answer_warns_above_5_s_and_fails_above_max_latency() -> None:
    slow = answer(200, total_ms=6200)
    warned = judge(DELIVERY, slow, Criteria())
    assert (warned.verdict, warned.code) == (Verdict.WARN, "slow")
    assert "6.20 s: over 5 s, close to WhatsAble's 10 s" in warned.message
    failed = judge(DELIVERY, slow, Criteria(max_latency_s=6))
    assert (failed.verdict, failed.code) == (Verdict.FAIL, "too_slow")
    assert judge(DELIVERY, answer(200, total_ms=5999), Criteria(max_latency_s=6)).verdict is Verdict.WARN


def test_forgery_verdicts() -> None:
    accepted = judge(FORGERY, answer(204), Criteria())
    assert accepted.verdict is Verdict.FAIL
    assert accepted.message == "your endpoint accepted a forged event (signed with another secret): answered 204"
    assert judge(FORGERY, answer(401), Criteria()).verdict is Verdict.PASS
    assert judge(FORGERY, answer(400), Criteria()).verdict is Verdict.PASS
    assert judge(FORGERY, answer(500), Criteria()).code == "rejected_with_5xx"
    # --expect applies to deliveries only: a forged event answered 200 is still accepted.
    assert judge(FORGERY, answer(200), Criteria(expect_status=202)).code == "forgery_accepted"


@pytest.mark.parametrize("status", [429, 503])
def test_429_and_503_are_retryable_with_or_without_retry_after(status: int) -> None:
    with_header = judge(DELIVERY, answer(status, headers=[("retry-after", "120")]), Criteria())
    assert with_header.code == "retryable" and with_header.retry_after == "120"
    assert f"answered {status} (retryable, Retry-After: 120)" in with_header.message
    assert "no Retry-After" in judge(DELIVERY, answer(status), Criteria()).message


def test_no_answer_is_unreachable_with_a_hint() -> None:
    timed_out = judge(DELIVERY, Exchange(error="timed out after 10 s", error_code="timeout"), Criteria())
    assert timed_out.verdict is Verdict.UNREACHABLE
    assert timed_out.hint is not None and "answer 2xx first" in timed_out.hint


def test_exit_code_rule_a_wrong_answer_outranks_a_missing_one() -> None:
    def report(*verdicts: Verdict) -> Report:
        return Report("http://x", None, Criteria(), [Outcome(DELIVERY, v, "c", "m") for v in verdicts])

    assert report(Verdict.PASS, Verdict.WARN, Verdict.SKIPPED).exit_code is ExitCode.OK
    assert report(Verdict.PASS, Verdict.UNREACHABLE).exit_code is ExitCode.UNREACHABLE
    assert report(Verdict.UNREACHABLE, Verdict.FAIL).exit_code is ExitCode.VALIDATION
    assert report(Verdict.PASS, Verdict.FAIL).summary.startswith("FAIL: 2 checks against http://x: 1 passed, 1 failed")


def test_secret_and_scheme_from_environment_and_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with endpoints.serve(lambda r, _: endpoints.correct("svix", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", r)) as ep:
        from_env = run_cli(
            "send-test",
            ep.url,
            env={"WHATSABLE_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "WHATSABLE_SCHEME": "svix"},
        )
        project = tmp_path / "project"
        project.mkdir()
        (project / "whatsable.toml").write_text('secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"\nscheme = "svix"\n')
        monkeypatch.chdir(project)
        from_config = run_cli("send-test", ep.url)
    assert from_env.exit_code == 0, from_env.stdout
    assert from_config.exit_code == 0, from_config.stdout
    assert "keep it out of git" in from_config.stderr  # the config's own warning, passed on
    assert "svix-signature" in {h.lower() for h in ep.received.headers[0]}
