"""The bundled WhatsAble payloads of both families, found by name or path, each with where it comes from."""

from __future__ import annotations

import functools
import json
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from whatsable_cli.errors import BadInputError
from whatsable_cli.webhooks.events import CONTENT_TYPES, EVENT_KINDS, STATUSES, JsonObject, PayloadFormat

# The variant a bare event name stands for, per family (`send-test --event incoming_message`, `fixtures show
# incoming_message`). The envelope's table is also what send-test's scenarios read.
DEFAULT_VARIANT = {"message_status": "delivered", "incoming_message": "text"}
FLAT_DEFAULT_VARIANT = {"incoming_message": "text", "outgoing_message": "whatsapp_app"}
# The flat family's variants beyond the content types: a message from a Click-to-WhatsApp ad, and who sent an
# outgoing one (the WhatsApp Business app, a teammate in the chat inbox, an automation).
AD_REFERRAL = "ad_referral"
OUTGOING_VARIANTS = ("whatsapp_app", "teammate", "automation")
FLAT_PREFIX = "flat/"
SOURCES_FILE = "sources.toml"


@dataclass(frozen=True)
class DocsPage:
    """A page of WhatsAble's documentation, named by its path in the docs repository and the commit read."""

    key: str
    title: str
    url: str
    path: str
    commit: str

    def to_dict(self) -> dict[str, str]:
        return {"page": self.key, "title": self.title, "url": self.url, "path": self.path, "commit": self.commit}


@dataclass(frozen=True)
class FixtureSource:
    """Where a bundled payload comes from: a documented example as is, or adapted from one (with each guess)."""

    origin: str  # "documented" | "adapted"
    page: DocsPage
    example: str
    also_in: tuple[DocsPage, ...] = ()
    assumptions: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "source": {**self.page.to_dict(), "example": self.example},
            "also_in": [page.to_dict() for page in self.also_in],
            "assumptions": list(self.assumptions),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Fixture:
    """One bundled payload: `message_status/delivered` lives at fixtures/message_status/delivered.json, the flat
    family's `flat/outgoing_message/teammate` at fixtures/flat/outgoing_message/teammate.json."""

    name: str
    event: str
    variant: str
    path: Path
    format: PayloadFormat = PayloadFormat.ENVELOPE

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()

    def load(self) -> JsonObject:
        loaded: JsonObject = json.loads(self.read_bytes())
        return loaded

    @property
    def source(self) -> FixtureSource | None:
        """Its metadata from fixtures/sources.toml (None for a payload the file does not name)."""
        return _sources(str(self.path.parents[2 if self.format is PayloadFormat.FLAT else 1])).get(self.name)

    def metadata(self) -> dict[str, Any]:
        """What `fixtures list --json` and `fixtures show --json` print about it."""
        source = self.source
        described = source.to_dict() if source is not None else {"origin": "unknown", "source": None}
        return {
            "name": self.name,
            "format": self.format.value,
            "event": self.event,
            "variant": self.variant,
            "path": str(self.path),
            **described,
        }


def fixtures_root() -> Path:
    """Inside a wheel the payloads ship as whatsable_cli/_fixtures; in a checkout, ./fixtures."""
    packaged = Path(str(resources.files("whatsable_cli"))) / "_fixtures"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "fixtures"


@functools.lru_cache(maxsize=2)
def _sources(root: str) -> dict[str, FixtureSource]:
    """fixtures/sources.toml read once: every fixture's origin, with its pages resolved."""
    try:
        raw = tomllib.loads((Path(root) / SOURCES_FILE).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    pages = {key: DocsPage(key, **value) for key, value in raw.get("pages", {}).items()}
    return {
        name: FixtureSource(
            origin=entry["origin"],
            page=pages[entry["page"]],
            example=entry["example"],
            also_in=tuple(pages[key] for key in entry.get("also_in", ())),
            assumptions=tuple(entry.get("assumptions", ())),
            notes=tuple(entry.get("notes", ())),
        )
        for name, entry in raw.get("fixtures", {}).items()
    }


def recording_assumptions() -> dict[str, tuple[str, ...]]:
    """What the bundled sample recordings assume (fixtures/sources.toml, `[recordings]`)."""
    try:
        raw = tomllib.loads((fixtures_root() / SOURCES_FILE).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    return {name: tuple(entry.get("assumptions", ())) for name, entry in raw.get("recordings", {}).items()}


def list_fixtures(payload_format: PayloadFormat | None = None) -> list[Fixture]:
    """Every bundled payload (or one family's): the envelope's first, each family by event then variant."""
    root = fixtures_root()
    found = [
        Fixture(f"{path.parent.name}/{path.stem}", path.parent.name, path.stem, path)
        for path in root.glob("*/*.json")
        if path.parent.name in EVENT_KINDS
    ]
    found += [
        Fixture(f"{FLAT_PREFIX}{path.parent.name}/{path.stem}", path.parent.name, path.stem, path, PayloadFormat.FLAT)
        for path in root.glob(f"{FLAT_PREFIX}*/*.json")
        if path.parent.name in EVENT_KINDS
    ]
    if payload_format is not None:
        found = [f for f in found if f.format is payload_format]
    variants = (
        *STATUSES,
        *CONTENT_TYPES,
        "docs_example",
        AD_REFERRAL,
        "ad_referral_excerpt",
        "bot_text",
        "bot_document",
        "whatsapp_app",
        "whatsapp_app_excerpt",
        "teammate",
        "automation",
    )
    order = {name: i for i, name in enumerate((*EVENT_KINDS, *variants))}
    families = {PayloadFormat.ENVELOPE: 0, PayloadFormat.FLAT: 1}
    return sorted(found, key=lambda f: (families[f.format], order.get(f.event, 99), order.get(f.variant, 99), f.name))


def find_fixture(name: str, payload_format: PayloadFormat | None = None) -> Fixture:
    """A fixture by full name (`message_status/read`, `flat/incoming_message/image`), or within one family
    (the envelope unless `payload_format` says flat) by `event/variant`, by variant alone (`read`), or by event."""
    wanted = name.removesuffix(".json")
    fixtures = list_fixtures()
    flat_name = FLAT_PREFIX + wanted if payload_format is PayloadFormat.FLAT else None
    for full in (flat_name, wanted):  # with --format flat, `incoming_message/text` means the flat one
        for fixture in fixtures:
            if full == fixture.name:
                return fixture
    family = payload_format or PayloadFormat.ENVELOPE
    own = [f for f in fixtures if f.format is family]
    defaults = FLAT_DEFAULT_VARIANT if family is PayloadFormat.FLAT else DEFAULT_VARIANT
    matches = [f for f in own if wanted in (f.variant, f"{f.event}/{f.variant}")]
    if not matches and wanted in defaults:
        matches = [f for f in own if (f.event, f.variant) == (wanted, defaults[wanted])]
    if len(matches) == 1:
        return matches[0]
    valid = matches or fixtures
    raise BadInputError(
        f"unknown fixture {name!r}" if not matches else f"fixture {name!r} is ambiguous",
        hint="valid names: " + ", ".join(f.name for f in valid),
        code="unknown_fixture",
    )


def load_payload_source(name_or_path: str, payload_format: PayloadFormat | None = None) -> bytes:
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
        return find_fixture(name_or_path, payload_format).read_bytes()
    except BadInputError:
        if path.suffix != ".json" and ("/" not in name_or_path or name_or_path.startswith(FLAT_PREFIX)):
            raise
    raise BadInputError(
        f"no such file or fixture: {name_or_path}",
        hint="pass a readable JSON file, or a fixture name from `whatsable fixtures list`",
        code="unreadable_file",
    )


def check_choice(kind: str, value: str, choices: Iterable[str], *, hint: str | None = None) -> str:
    """Fail with the valid names (and `hint`, when given) when `value` is not one of `choices`."""
    options = tuple(choices)
    if value not in options:
        plural = kind + ("es" if kind.endswith("s") else "s")
        valid = f"valid {plural}: {', '.join(options)}"
        raise BadInputError(
            f"unknown {kind} {value!r}", hint=f"{valid}; {hint}" if hint else valid, code="unknown_choice"
        )
    return value
