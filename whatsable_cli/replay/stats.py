"""Replay bookkeeping in constant memory: a streaming latency histogram, the pacer, the run's summary."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from whatsable_cli.errors import BadInputError

# Log-spaced buckets 1% apart from 10 microseconds to ~30 min: quantiles within 1%, in ~2,000 ints whatever the count.
_MIN_MS = 0.01
_GROWTH = 1.01
_LOG_GROWTH = math.log(_GROWTH)
_BUCKETS = 2000


class LatencyHistogram:
    """Streaming latency quantiles: memory does not grow with the number of samples."""

    def __init__(self) -> None:
        self._counts = [0] * (_BUCKETS + 1)
        self.count = 0
        self.total_ms = 0.0
        self.min_ms = math.inf
        self.max_ms = 0.0

    def add(self, latency_ms: float) -> None:
        index = 0 if latency_ms <= _MIN_MS else min(_BUCKETS, 1 + int(math.log(latency_ms / _MIN_MS) / _LOG_GROWTH))
        self._counts[index] += 1
        self.count += 1
        self.total_ms += latency_ms
        self.min_ms = min(self.min_ms, latency_ms)
        self.max_ms = max(self.max_ms, latency_ms)

    def quantile(self, q: float) -> float | None:
        """The q-quantile (0 < q <= 1), the upper edge of its bucket clamped to the observed range."""
        if not self.count:
            return None
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for index, bucket_count in enumerate(self._counts):
            seen += bucket_count
            if seen >= rank:
                upper = _MIN_MS * _GROWTH**index
                return round(min(max(upper, self.min_ms), self.max_ms), 2)
        return round(self.max_ms, 2)

    def to_dict(self) -> dict[str, float | None]:
        return {
            "p50": self.quantile(0.50),
            "p95": self.quantile(0.95),
            "p99": self.quantile(0.99),
            "min": round(self.min_ms, 2) if self.count else None,
            "max": round(self.max_ms, 2) if self.count else None,
            "mean": round(self.total_ms / self.count, 2) if self.count else None,
        }


class Pacer:
    """Plans send times at most `rate` per second: each slot is one interval after the previous one.

    A slot is never earlier than `now` either, so a slow target does not earn a burst afterwards. The
    planned times are kept on each outcome, which is what the rate test asserts on (not wall time).
    """

    def __init__(self, rate: float) -> None:
        if rate <= 0:
            raise BadInputError(f"--rate must be positive, not {rate}", hint="e.g. --rate 50/s", code="invalid_rate")
        self.interval = 1.0 / rate
        self._next: float | None = None

    def next_slot(self, now: float) -> float:
        slot = now if self._next is None else max(self._next, now)
        self._next = slot + self.interval
        return slot


def parse_rate(text: str) -> float:
    """`50`, `50/s`, `600/m` or `3600/h` -> requests per second."""
    number, _, unit = text.strip().partition("/")
    per = {"": 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}.get(unit.strip().lower())
    try:
        value = float(number)
    except ValueError:
        value = -1.0
    if per is None or value <= 0:
        raise BadInputError(
            f"invalid --rate {text!r}", hint="use N/s, N/m or N/h, e.g. --rate 50/s", code="invalid_rate"
        )
    return value / per


class StatusExpectation:
    """`--expect`: which answers pass: `2xx` (default), `200`, `200,202`, `2xx,409`."""

    def __init__(self, spec: str = "2xx") -> None:
        self.spec = spec
        self._codes: set[int] = set()
        self._classes: set[int] = set()
        for part in (p.strip().lower() for p in spec.split(",") if p.strip()):
            if len(part) == 3 and part[0] in "12345" and part[1:] == "xx":
                self._classes.add(int(part[0]))
            elif part.isdigit() and 100 <= int(part) <= 599:
                self._codes.add(int(part))
            else:
                raise _invalid_expect(spec)
        if not self._codes and not self._classes:
            raise _invalid_expect(spec)

    def matches(self, status: int) -> bool:
        return status in self._codes or status // 100 in self._classes


def _invalid_expect(spec: str) -> BadInputError:
    return BadInputError(
        f"invalid --expect {spec!r}", hint="e.g. --expect 2xx or --expect 200,202", code="invalid_expect"
    )


@dataclass
class ReplaySummary:
    """Counts by outcome and status, latency quantiles; what the exit code is decided from."""

    selected: int = 0
    sent: int = 0
    passed: int = 0
    failed: int = 0  # answered, but not as --expect wants (exit 4)
    unreachable: int = 0  # no answer: refused, timed out, connection error (exit 5)
    skipped: int = 0  # could not be prepared (e.g. --set on a non-JSON body)
    not_sent: int = 0  # left over after --stop-on-failure
    dry_run: bool = False
    stopped_early: bool = False
    interrupted: bool = False  # Ctrl-C: the summary so far is still reported
    elapsed_s: float = 0.0
    by_status: Counter[str] = field(default_factory=Counter)
    signature_warnings: Counter[str] = field(default_factory=Counter)
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)

    @property
    def requests_per_second(self) -> float | None:
        return round(self.sent / self.elapsed_s, 1) if self.elapsed_s > 0 and self.sent else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "selected": self.selected,
            "sent": self.sent,
            "passed": self.passed,
            "failed": self.failed,
            "unreachable": self.unreachable,
            "skipped": self.skipped,
            "not_sent": self.not_sent,
            "dry_run": self.dry_run,
            "stopped_early": self.stopped_early,
            "interrupted": self.interrupted,
            "elapsed_s": round(self.elapsed_s, 3),
            "requests_per_second": self.requests_per_second,
            "by_status": dict(sorted(self.by_status.items())),
            "signature_warnings": dict(self.signature_warnings),
            "latency_ms": self.latency.to_dict(),
        }
