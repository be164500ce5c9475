"""Judges a scenario step's answer against the step's own expectations: status, latency, values in its JSON."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from whatsable_cli.send_test.scenarios import Expectation
from whatsable_cli.send_test.sender import MAX_RESPONSE_BYTES, Exchange
from whatsable_cli.send_test.verdicts import Check, Criteria, Outcome, Verdict, judge

SLOW_HINT = "acknowledge first (2xx), then process in the background"
_MISSING = object()


def step_criteria(expect: Expectation, run: Criteria) -> Criteria:
    """The run's criteria with the step's own status; its own max_latency is judged apart (its own message)."""
    status = run.expect_status if expect.status is None else None if expect.status == "2xx" else expect.status
    latency = run.max_latency_s if expect.max_latency_s is None else None
    return replace(run, expect_status=status, max_latency_s=latency)


def judge_step(check: Check, expect: Expectation | None, exchange: Exchange, criteria: Criteria) -> Outcome:
    """`judge`, then what the step itself asks of the answer."""
    if expect is None:
        return judge(check, exchange, criteria)
    outcome = judge(check, exchange, step_criteria(expect, criteria))
    if outcome.verdict not in (Verdict.PASS, Verdict.WARN):
        return outcome
    seconds = exchange.total_ms / 1000
    if expect.max_latency_s is not None and seconds > expect.max_latency_s:
        message = (
            f"answered {exchange.status} in {seconds:.2f} s, over the step's max_latency {expect.max_latency_s:g} s"
        )
        return Outcome(check, Verdict.FAIL, "too_slow", message, SLOW_HINT, exchange)
    mismatch = json_mismatch(expect.json, exchange.body)
    if mismatch is not None:
        wanted = ", ".join(f"{path} = {_shown(value)}" for path, value in expect.json)
        return Outcome(
            check,
            Verdict.FAIL,
            "unexpected_answer",
            f"answered {exchange.status}, but {mismatch}",
            f"the step expects an answer with {wanted} (its expect.json)",
            exchange,
        )
    return outcome


def json_mismatch(expected: tuple[tuple[str, Any], ...], body: bytes) -> str | None:
    """What is wrong with the answer's JSON, or None when every path holds its value."""
    if not expected:
        return None
    if len(body) >= MAX_RESPONSE_BYTES:
        return f"the answer is over {MAX_RESPONSE_BYTES // 1024} KiB, too long to check"
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return "the answer is not JSON" if body.strip() else "the answer is empty, not JSON"
    except RecursionError:  # an answer nested deeper than the parser goes
        return "the answer's JSON is nested too deeply to check"
    for path, value in expected:
        actual = lookup(document, path)
        if actual is _MISSING:
            return f"the answer has no {path}"
        if not same_json(actual, value):
            return f"the answer's {path} is {_shown(actual)}, expected {_shown(value)}"
    return None


def lookup(document: Any, path: str) -> Any:
    """The value at a dotted path (`data.status`, `items.0.id`), or _MISSING."""
    current = document
    for key in path.split("."):
        if isinstance(current, dict) and key in current:
            current = current[key]
        elif isinstance(current, list) and key.lstrip("-").isdigit() and -len(current) <= int(key) < len(current):
            current = current[int(key)]
        else:
            return _MISSING
    return current


def same_json(actual: Any, expected: Any) -> bool:
    """JSON equality: 1 equals 1.0, but true is not 1 (Python's == would say it is)."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(actual, dict) and isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(same_json(actual[k], expected[k]) for k in actual)
    if isinstance(actual, list) and isinstance(expected, list):
        return len(actual) == len(expected) and all(same_json(a, e) for a, e in zip(actual, expected, strict=True))
    if isinstance(actual, int | float) and isinstance(expected, int | float):
        return actual == expected
    return type(actual) is type(expected) and actual == expected


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:59] + "…"
