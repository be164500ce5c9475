"""What an app answered a test request, with the assertions a webhook test makes on it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from whatsable_cli.send_test.answers import json_mismatch

SNIPPET_CHARS = 200


@dataclass(frozen=True)
class Answer:
    """The status, headers and body an app answered; every assert_* returns the answer, so they chain."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def _fail(self, expected: str) -> AssertionError:
        text = self.text
        shown = text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS] + "…"
        return AssertionError(f"expected {expected}, got {self.status}: {shown!r}")

    def assert_accepted(self) -> Answer:
        """2xx: what WhatsAble needs for a correctly signed event (anything else and it delivers it again)."""
        if not 200 <= self.status < 300:
            raise self._fail("a 2xx answer (the event is correctly signed)")
        return self

    def assert_rejected(self) -> Answer:
        """4xx: how to refuse a forged event (a 2xx processes it; a 5xx asks the sender to retry it)."""
        if not 400 <= self.status < 500:
            raise self._fail("a 4xx answer (a forged event must be refused, e.g. 401)")
        return self

    def assert_status(self, *codes: int) -> Answer:
        if self.status not in codes:
            raise self._fail(" or ".join(str(code) for code in codes))
        return self

    def assert_json(self, path: str, value: Any) -> Answer:
        """The answer is JSON and holds `value` at the dotted `path` (`ok`, `data.status`, `items.0.id`)."""
        mismatch = json_mismatch(((path.removeprefix("$."), value),), self.body)
        if mismatch is not None:
            raise AssertionError(mismatch)
        return self
