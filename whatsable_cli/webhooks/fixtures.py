"""The bundled WhatsAble payloads: found by name (`message_status/delivered`) or path, shipped in the wheel."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from whatsable_cli.errors import BadInputError
from whatsable_cli.webhooks.events import CONTENT_TYPES, EVENT_TYPES, STATUSES, JsonObject

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


def check_choice(kind: str, value: str, choices: Iterable[str]) -> str:
    """Fail with the valid names when `value` is not one of `choices`."""
    options = tuple(choices)
    if value not in options:
        plural = kind + ("es" if kind.endswith("s") else "s")
        raise BadInputError(
            f"unknown {kind} {value!r}", hint=f"valid {plural}: {', '.join(options)}", code="unknown_choice"
        )
    return value
