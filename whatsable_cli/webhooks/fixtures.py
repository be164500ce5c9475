"""Bundled payloads by name, the synthetic event builder and `--set path=value` overrides."""

from __future__ import annotations

import copy
import json
import random
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from whatsable_cli.errors import BadInputError
from whatsable_cli.webhooks.events import CONTENT_TYPES, EVENT_TYPES, STATUSES, JsonObject

# A fixed "now" for seeded runs, so that `--seed N` reproduces the same bytes.
SEEDED_EPOCH = 1711230104.477
DEFAULT_VARIANT = {"message_status": "delivered", "incoming_message": "text"}


@dataclass(frozen=True)
class Fixture:
    """One bundled payload: `message_status/delivered` lives at fixtures/message_status/delivered.json."""

    name: str
    event: str
    variant: str
    path: Path

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()

    def load(self) -> JsonObject:
        loaded: JsonObject = json.loads(self.read_bytes())
        return loaded


def fixtures_root() -> Path:
    """Inside a wheel the payloads ship as whatsable_cli/_fixtures; in a checkout, ./fixtures."""
    packaged = Path(str(resources.files("whatsable_cli"))) / "_fixtures"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "fixtures"


def list_fixtures() -> list[Fixture]:
    root = fixtures_root()
    found = [
        Fixture(f"{path.parent.name}/{path.stem}", path.parent.name, path.stem, path)
        for path in sorted(root.glob("*/*.json"))
    ]
    order = {name: i for i, name in enumerate((*EVENT_TYPES, *STATUSES, *CONTENT_TYPES))}
    return sorted(found, key=lambda f: (order.get(f.event, 99), order.get(f.variant, 99), f.name))


def find_fixture(name: str) -> Fixture:
    """A fixture by full name (`message_status/read`), by variant alone (`read`), or by event type."""
    wanted = name.removesuffix(".json")
    fixtures = list_fixtures()
    for fixture in fixtures:
        if wanted == fixture.name:
            return fixture
    matches = [f for f in fixtures if wanted == f.variant]
    if not matches and wanted in DEFAULT_VARIANT:
        matches = [f for f in fixtures if f.name == f"{wanted}/{DEFAULT_VARIANT[wanted]}"]
    if len(matches) == 1:
        return matches[0]
    raise BadInputError(
        f"unknown fixture {name!r}",
        hint="valid names: " + ", ".join(f.name for f in fixtures),
        code="unknown_fixture",
    )


def load_payload_source(name_or_path: str) -> bytes:
    """The bytes of a JSON file path or, when no such file exists, of a fixture name."""
    path = Path(name_or_path)
    if path.is_file():
        try:
            return path.read_bytes()
        except OSError as exc:
            raise BadInputError(
                f"cannot read {name_or_path}: {exc.strerror}",
                hint="check the file's permissions",
                code="unreadable_file",
            ) from None
    try:
        return find_fixture(name_or_path).read_bytes()
    except BadInputError:
        if path.suffix != ".json" and "/" not in name_or_path:
            raise
    raise BadInputError(
        f"no such file or fixture: {name_or_path}",
        hint="pass a readable JSON file, or a fixture name from `whatsable fixtures list`",
        code="unreadable_file",
    )


def apply_overrides_to_body(body: bytes, sets: Iterable[str], origin: str) -> bytes:
    """`--set` on raw bytes: unchanged without edits, else the edited JSON object as compact JSON (exit 7 if the
    body is not a JSON object; `origin` names the body in the message)."""
    sets = tuple(sets)
    if not sets:
        return body
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        payload = _NOT_JSON
    if not isinstance(payload, dict):
        why = "it is not JSON" if payload is _NOT_JSON else f"it is a JSON {type(payload).__name__}"
        raise BadInputError(
            f"{origin}: --set needs a JSON object body, and {why}",
            hint="drop --set, or send a JSON object payload",
            code="not_json",
        )
    return to_body(apply_overrides(payload, sets))


_NOT_JSON = object()


def to_body(payload: Any) -> bytes:
    """Serialise a payload the way WhatsAble sends it: compact JSON, UTF-8."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def check_choice(kind: str, value: str, choices: Iterable[str]) -> str:
    """Fail with the valid names when `value` is not one of `choices`."""
    options = tuple(choices)
    if value not in options:
        plural = kind + ("es" if kind.endswith("s") else "s")
        raise BadInputError(
            f"unknown {kind} {value!r}", hint=f"valid {plural}: {', '.join(options)}", code="unknown_choice"
        )
    return value


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


def _parse_value(text: str) -> Any:
    """A --set value: a JSON literal when it parses as one (numbers, true, null, objects), else a string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def apply_overrides(payload: JsonObject, assignments: Iterable[str]) -> JsonObject:
    """Apply `path=value` assignments (`data.status=read`, `data.error={"code":"1"}`) to a copy."""
    result = copy.deepcopy(payload)
    for assignment in assignments:
        path, sep, raw_value = assignment.partition("=")
        keys = path.strip().split(".")
        if not sep or not all(keys):
            raise BadInputError(
                f"invalid --set {assignment!r}",
                hint="use --set path.to.field=value, e.g. --set data.status=read",
                code="invalid_set",
            )
        target: Any = result
        for depth, key in enumerate(keys[:-1]):
            child = _step(target, key, assignment)
            if child is None:
                child = {}
                _assign(target, key, child, assignment)
            elif not isinstance(child, dict | list):
                where = ".".join(keys[: depth + 1])
                raise BadInputError(
                    f"invalid --set {assignment!r}: {where} is a {type(child).__name__}, not an object",
                    hint="set the parent instead, e.g. --set " + where + "=...",
                    code="invalid_set",
                )
            target = child
        _assign(target, keys[-1], _parse_value(raw_value), assignment)
    return result


def _step(target: Any, key: str, assignment: str) -> Any:
    if isinstance(target, list):
        return target[_index(target, key, assignment)]
    return target.get(key)


def _assign(target: Any, key: str, value: Any, assignment: str) -> None:
    if isinstance(target, list):
        target[_index(target, key, assignment)] = value
    else:
        target[key] = value


def _index(target: list[Any], key: str, assignment: str) -> int:
    if not key.lstrip("-").isdigit() or not -len(target) <= int(key) < len(target):
        raise BadInputError(
            f"invalid --set {assignment!r}: {key!r} is not an index of a list of {len(target)}",
            hint="list items are addressed by number, e.g. items.0.name=x",
            code="invalid_set",
        )
    return int(key)
