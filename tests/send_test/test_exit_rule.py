"""One exit-code rule for every command that sends requests: a wrong answer (4) outranks a missing one (5)."""

from __future__ import annotations

import pytest

from whatsable_cli.errors import ExitCode, outcome_exit_code
from whatsable_cli.replay.service import exit_code as replay_exit_code
from whatsable_cli.replay.stats import ReplaySummary
from whatsable_cli.send_test.verdicts import Check, Criteria, Outcome, Report, Verdict


@pytest.mark.parametrize(
    ("failed", "unreachable", "expected"),
    [(0, 0, ExitCode.OK), (1, 0, ExitCode.VALIDATION), (0, 1, ExitCode.UNREACHABLE), (2, 3, ExitCode.VALIDATION)],
)
def test_send_test_and_replay_share_the_rule(failed: int, unreachable: int, expected: ExitCode) -> None:
    assert outcome_exit_code(failed=failed, unreachable=unreachable) is expected
    assert replay_exit_code(ReplaySummary(failed=failed, unreachable=unreachable)) is expected
    check = Check("delivery", "deliver", "message_status/delivered")
    outcomes = [Outcome(check, Verdict.FAIL, "unexpected_status", "500")] * failed
    outcomes += [Outcome(check, Verdict.UNREACHABLE, "refused", "refused")] * unreachable
    assert Report("http://localhost:3000/webhook", "whatsable", Criteria(), outcomes).exit_code is expected


def test_an_interrupted_replay_exits_130_whatever_it_counted() -> None:
    assert replay_exit_code(ReplaySummary(failed=1, unreachable=1, interrupted=True)) is ExitCode.INTERRUPTED
