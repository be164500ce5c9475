"""Synthetic events: fresh ids, phone numbers and times on every call, reproducible with a seed."""

from __future__ import annotations

import copy
import json
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from whatsable_cli.webhooks.events import CONTENT_TYPES, EVENT_TYPES, STATUSES, JsonObject
from whatsable_cli.webhooks.fixtures import DEFAULT_VARIANT, check_choice, find_fixture

# A fixed "now" for seeded runs, so that `--seed N` reproduces the same bytes.
SEEDED_EPOCH = 1711230104.477


class SyntheticEvents:
    """Builds fresh, realistic events: new ids, phone numbers and timestamps on every call.

    With a seed the sequence is reproducible to the byte (timestamps start from a fixed epoch).
    """

    def __init__(self, seed: int | None = None, clock: Callable[[], float] = time.time) -> None:
        self._rng = random.Random(seed)
        self._seeded = seed is not None
        self._clock = clock
        self._calls = 0

    def _now(self) -> float:
        self._calls += 1
        return SEEDED_EPOCH + self._calls if self._seeded else float(self._clock())

    def _message_id(self) -> str:
        return "wamid." + "".join(self._rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", k=32))

    def build(self, event: str, variant: str | None = None) -> JsonObject:
        check_choice("event", event, EVENT_TYPES)
        variant = variant or DEFAULT_VARIANT[event]
        check_choice(
            "status" if event == "message_status" else "content type",
            variant,
            STATUSES if event == "message_status" else CONTENT_TYPES,
        )
        payload = copy.deepcopy(find_fixture(f"{event}/{variant}").load())
        data: JsonObject = payload["data"]
        now = self._now()
        iso = datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if event == "message_status":
            data["message_id"] = self._message_id()
            data["timestamp"] = iso
            return payload
        phone = str(self._rng.choice((880, 1, 44, 91, 55, 234))) + str(self._rng.randrange(10**9, 10**10))
        data["phone_number"] = phone
        data["user_id"] = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        data["user_timestamp"] = int(now)
        data["bot_timestamp"] = int(now) - 42
        messages = json.loads(data["last_messages"])
        messages[-1]["timestamp"] = iso
        data["last_messages"] = json.dumps(messages, separators=(",", ":"), ensure_ascii=False)
        return payload
