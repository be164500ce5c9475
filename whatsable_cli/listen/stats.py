"""What a `listen` run counts: events by type, forwards, duplicates, signatures; and duplicate detection."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whatsable_cli.delivery.results import DeliveryResult
from whatsable_cli.webhooks.events import ParsedEvent

DEDUPE_MEMORY = 100_000  # keys remembered per run; older ones are forgotten so memory stays bounded


class DuplicateTracker:
    """Seen before in this run: the same message id + status (or phone + time), or the same body."""

    def __init__(self, limit: int = DEDUPE_MEMORY) -> None:
        self._seen: dict[int | str, None] = {}
        self._limit = limit

    def _remember(self, key: int | str) -> bool:
        if key in self._seen:
            return True
        self._seen[key] = None
        if len(self._seen) > self._limit:
            del self._seen[next(iter(self._seen))]  # dicts keep insertion order: the oldest goes
        return False

    def seen(self, parsed: ParsedEvent, body: bytes) -> bool:
        if not body:
            return False
        # Python's own 64-bit hash of the bytes (SipHash, keyed per process) is several times cheaper than a
        # cryptographic digest; with 100,000 bodies remembered a false match is about 1 in 10^8 over a million events.
        by_body = self._remember(hash(body))
        # The key WhatsAble documents, where it documents one (a status: message id + status; a flat message:
        # phone number + message time); an envelope's conversation snapshot is the same only when its body is.
        key = parsed.dedupe_key
        by_key = self._remember(key) if key is not None else False
        return by_body or by_key


@dataclass
class RunSummary:
    """The numbers shown when `listen` stops (and the health route's counters)."""

    recording: Path | None = None
    started_at: float = 0.0
    duration_s: float = 0.0
    events: Counter[str] = field(default_factory=Counter)  # by event type, incl. unknown / not_json
    forwards_ok: int = 0
    forwards_failed: int = 0
    forwards_cancelled: int = 0  # still unanswered when the listener stopped (recorded as cancelled)
    redelivered: int = 0
    duplicates: int = 0
    signatures: Counter[str] = field(default_factory=Counter)  # verified / failed / unsigned / unchecked
    rejected: int = 0
    other_path: int = 0
    too_large: int = 0
    filtered: int = 0
    record_failures: int = 0
    lines_recorded: int = 0
    still_queued: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.events.values())

    def count_forward(self, result: DeliveryResult) -> None:
        if result.ok:
            self.forwards_ok += 1
        else:
            self.forwards_failed += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "recording": str(self.recording) if self.recording else None,
            "duration_s": round(self.duration_s, 3),
            "events": self.total,
            "by_type": dict(self.events),
            "forwards_ok": self.forwards_ok,
            "forwards_failed": self.forwards_failed,
            "forwards_cancelled": self.forwards_cancelled,
            "redelivered": self.redelivered,
            "duplicates": self.duplicates,
            "signatures": dict(self.signatures),
            "rejected": self.rejected,
            "other_path": self.other_path,
            "too_large": self.too_large,
            "filtered": self.filtered,
            "record_failures": self.record_failures,
            "lines_recorded": self.lines_recorded,
            "still_queued": self.still_queued,
        }
