"""send-test's checks and verdicts: what each answer means, the report, and its exit code (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from whatsable_cli.delivery.results import DNS, PROTOCOL, REFUSED, TIMEOUT, TLS
from whatsable_cli.errors import ExitCode, outcome_exit_code
from whatsable_cli.send_test.sender import Exchange

DEFAULT_WARN_LATENCY_S = 5.0  # half of WhatsAble's 10 s: an endpoint this slow is one bad day from timing out
RETRYABLE_STATUSES = frozenset({429, 503})
# Failures after which nothing else can reach the endpoint either: the rest of the plan is skipped.
STOPPING_ERRORS = frozenset({REFUSED, DNS, TLS})

UNREACHABLE_HINTS = {
    REFUSED: "nothing listens there: is the app running, on this host and port?",
    TIMEOUT: "WhatsAble gives up after 10 s: answer 2xx first, then do the work (a queue or a background task)",
    TLS: "senders verify certificates: serve a certificate valid for this host name (not self-signed)",
    DNS: "check the host name (a typo, or a name that only resolves inside your network?)",
    PROTOCOL: "the endpoint closed the connection without a valid HTTP answer: check its logs",
}


class Expect(StrEnum):
    """What a correct endpoint does with the request: accept it (2xx) or reject it (not 2xx)."""

    ACCEPT = "accept"
    REJECT = "reject"


class Verdict(StrEnum):
    PASS = "pass"  # noqa: S105 (a verdict, not a password)
    WARN = "warn"
    FAIL = "fail"
    UNREACHABLE = "unreachable"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Check:
    """One request of the plan and what it tests; `defect` names what a wrong answer reveals."""

    group: str  # delivery | security | idempotency | ordering
    name: str
    request: str  # which event, e.g. message_status/delivered
    expect: Expect = Expect.ACCEPT
    defect: str = ""
    hint: str = ""
    note: str = ""  # said even when the check passes (what the tool cannot see)

    @property
    def title(self) -> str:
        return f"{self.group}: {self.name}"


@dataclass(frozen=True)
class Criteria:
    """What counts as a good answer (--expect, --max-latency, --timeout)."""

    expect_status: int | None = None  # None: any 2xx
    max_latency_s: float | None = None
    warn_latency_s: float = DEFAULT_WARN_LATENCY_S
    timeout_s: float = 10.0

    @property
    def expected_label(self) -> str:
        return "2xx" if self.expect_status is None else str(self.expect_status)

    def accepts(self, status: int) -> bool:
        return 200 <= status < 300 if self.expect_status is None else status == self.expect_status


@dataclass
class Outcome:
    """The verdict on one check, with the message and hint a developer acts on."""

    check: Check
    verdict: Verdict
    code: str  # stable snake_case: ok, forgery_accepted, redirect, unexpected_status, retryable, timeout, ...
    message: str
    hint: str | None = None
    exchange: Exchange | None = None

    @property
    def retry_after(self) -> str | None:
        return None if self.exchange is None else self.exchange.header("Retry-After")


def judge(check: Check, exchange: Exchange, criteria: Criteria) -> Outcome:
    """Turn one answer (or the lack of one) into a verdict."""
    if exchange.status is None:
        code = exchange.error_code or "connection"
        hint = UNREACHABLE_HINTS.get(code, "check that the URL is reachable from this machine")
        return Outcome(check, Verdict.UNREACHABLE, code, exchange.error or "no answer", hint, exchange)
    status = exchange.status
    if 300 <= status < 400:
        where = exchange.header("Location") or "no Location"
        return Outcome(
            check,
            Verdict.FAIL,
            "redirect",
            f"redirected ({status} to {where}): webhook senders do not follow redirects",
            "configure the final URL (https://, the exact path and trailing slash, the right host)",
            exchange,
        )
    if check.expect is Expect.REJECT:
        return _judge_forgery(check, exchange, status)
    return _judge_delivery(check, exchange, status, criteria)


def _judge_forgery(check: Check, exchange: Exchange, status: int) -> Outcome:
    if 200 <= status < 300:
        return Outcome(
            check,
            Verdict.FAIL,
            "forgery_accepted",
            f"your endpoint accepted a forged event ({check.defect}): answered {status}",
            check.hint or "verify the signature over the exact raw body before anything else; answer 401",
            exchange,
        )
    if status >= 500:
        return Outcome(
            check,
            Verdict.WARN,
            "rejected_with_5xx",
            f"rejected with {status}",
            "answer a bad signature with 400/401: a 5xx tells the sender to retry the forged event",
            exchange,
        )
    return Outcome(check, Verdict.PASS, "ok", f"rejected ({status})", None, exchange)


def _judge_delivery(check: Check, exchange: Exchange, status: int, criteria: Criteria) -> Outcome:
    if not criteria.accepts(status):
        what = f"{check.defect}: " if check.defect else ""
        if status in RETRYABLE_STATUSES:
            retry_after = exchange.header("Retry-After")
            after = f", Retry-After: {retry_after}" if retry_after else ", no Retry-After"
            return Outcome(
                check,
                Verdict.FAIL,
                "retryable",
                f"{what}answered {status} (retryable{after}): WhatsAble would deliver it again later",
                "the endpoint was overloaded or not ready; in CI it should answer 2xx",
                exchange,
            )
        return Outcome(
            check,
            Verdict.FAIL,
            "unexpected_status",
            f"{what}answered {status}, expected {criteria.expected_label}",
            check.hint or _status_hint(status),
            exchange,
        )
    seconds = exchange.total_ms / 1000
    if criteria.max_latency_s is not None and seconds > criteria.max_latency_s:
        return Outcome(
            check,
            Verdict.FAIL,
            "too_slow",
            f"answered {status} in {seconds:.2f} s, over --max-latency {criteria.max_latency_s:g} s",
            "acknowledge first (2xx), then process in the background",
            exchange,
        )
    if seconds > criteria.warn_latency_s:
        return Outcome(
            check,
            Verdict.WARN,
            "slow",
            f"answered {status} in {seconds:.2f} s: over {criteria.warn_latency_s:g} s, close to WhatsAble's 10 s",
            "acknowledge first (2xx), then process in the background",
            exchange,
        )
    return Outcome(check, Verdict.PASS, "ok", f"accepted ({status})", check.note or None, exchange)


def _status_hint(status: int) -> str:
    if status in (401, 403):
        return "the endpoint rejected a correctly signed event: check the secret and --scheme on both sides"
    if status == 404:
        return "no handler at this path: check the URL"
    if status >= 500:
        return "the endpoint failed while handling the event: check its logs"
    return "a webhook endpoint should acknowledge every well-formed, correctly signed event with 2xx"


def skipped(check: Check, reason: str) -> Outcome:
    return Outcome(check, Verdict.SKIPPED, "skipped", f"not sent: {reason}")


@dataclass
class Report:
    """Everything send-test found, in plan order, plus what it did not check and why."""

    url: str
    scheme: str | None  # None: unsigned requests
    criteria: Criteria
    outcomes: list[Outcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def count(self, verdict: Verdict) -> int:
        return sum(1 for o in self.outcomes if o.verdict is verdict)

    @property
    def exit_code(self) -> ExitCode:
        return outcome_exit_code(failed=self.count(Verdict.FAIL), unreachable=self.count(Verdict.UNREACHABLE))

    @property
    def summary(self) -> str:
        parts = [f"{self.count(Verdict.PASS)} passed"]
        for verdict, label in (
            (Verdict.WARN, "warned"),
            (Verdict.FAIL, "failed"),
            (Verdict.UNREACHABLE, "unreachable"),
            (Verdict.SKIPPED, "skipped"),
        ):
            if self.count(verdict):
                parts.append(f"{self.count(verdict)} {label}")
        overall = "PASS" if self.exit_code is ExitCode.OK else "FAIL"
        counts = ", ".join(parts)
        return f"{overall}: {len(self.outcomes)} checks against {self.url}: {counts} (exit {int(self.exit_code)})"
