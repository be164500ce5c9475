"""send-test scenarios: a sequence of events with shared ids, delays and per-step expectations, read from TOML.

The scenario model and its validation are one job: each key's check sits beside its field, so an error can
name the step and key; finding a key's line is `scenario_lines.py`'s, building the steps `scenario_steps.py`'s.
"""

from __future__ import annotations

import datetime
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

from whatsable_cli.errors import BadInputError
from whatsable_cli.send_test.scenario_lines import locate_key
from whatsable_cli.webhooks.events import CONTENT_TYPES, EVENT_TYPES, STATUSES
from whatsable_cli.webhooks.fixtures import DEFAULT_VARIANT, find_fixture
from whatsable_cli.webhooks.overrides import apply_overrides

BUNDLED_FOLDER = "bundled_scenarios"  # inside this package, so the files ship in the wheel
MAX_STEPS = 100
MAX_DELAY_S = 300.0  # a scenario is for CI: minutes of waiting belong in a scheduled job, not a step
MAX_FILE_BYTES = 1024 * 1024
DEFAULT_ALIAS = "default"  # every step shares one message and one contact unless it names another

SCENARIO_KEYS = ("description", "step")
STEP_KEYS = ("name", "event", "status", "content_type", "message", "contact", "set", "delay", "expect")
EXPECT_KEYS = ("status", "max_latency", "json")
FORMAT_HINT = "see README, 'Scenario files', or `whatsable scenarios show status-lifecycle` for an example"


@dataclass(frozen=True)
class Expectation:
    """What one step's answer must be, over the run's own --expect and --max-latency."""

    status: int | Literal["2xx"] | None = None  # None: the run's --expect
    max_latency_s: float | None = None  # None: the run's --max-latency
    json: tuple[tuple[str, Any], ...] = ()  # (dotted path in the answer's JSON, the value it must equal)


@dataclass(frozen=True)
class ScenarioStep:
    """One event of a scenario, and the ids it shares with the other steps."""

    index: int  # 1-based, as the table and the error messages count
    name: str
    event: str
    variant: str
    message: str  # message_status: steps naming the same message share its message_id
    contact: str  # incoming_message: steps naming the same contact share phone number and user id
    overrides: tuple[str, ...] = ()
    delay_s: float = 0.0
    expect: Expectation = Expectation()

    @property
    def label(self) -> str:
        return f"{self.event}/{self.variant}"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    steps: tuple[ScenarioStep, ...]
    origin: str  # "bundled", or the file it was read from
    text: str  # the TOML as read (what `scenarios show` prints)


class _Problem(Exception):
    """A schema error, located later: `keys` is the path of the offending key inside its step (or the file)."""

    def __init__(self, step: int | None, keys: tuple[str, ...], message: str, hint: str = FORMAT_HINT) -> None:
        super().__init__(message)
        self.step, self.keys, self.message, self.hint = step, keys, message, hint


def _bundled_root() -> Traversable:
    return resources.files("whatsable_cli.send_test").joinpath(BUNDLED_FOLDER)


def bundled_names() -> list[str]:
    return sorted(p.name.removesuffix(".toml") for p in _bundled_root().iterdir() if p.name.endswith(".toml"))


def list_bundled() -> list[Scenario]:
    return [load_scenario(name) for name in bundled_names()]


def load_scenario(name_or_path: str) -> Scenario:
    """A scenario file (when the path exists) or a bundled scenario by name; exit 7 on anything wrong."""
    path = Path(name_or_path)
    if path.is_file():
        return parse_scenario(_read(path), name=path.stem, origin=name_or_path)
    if name_or_path in bundled_names():
        text = _bundled_root().joinpath(f"{name_or_path}.toml").read_text(encoding="utf-8")
        return parse_scenario(text, name=name_or_path, origin="bundled")
    if path.suffix == ".toml" or "/" in name_or_path or path.exists():
        why = "is not a file" if path.exists() else "does not exist"
        raise BadInputError(
            f"scenario file {name_or_path} {why}",
            hint="pass a readable .toml file, or a name from `whatsable scenarios list`",
            code="unreadable_file",
        )
    raise BadInputError(
        f"unknown scenario {name_or_path!r}",
        hint="bundled scenarios: " + ", ".join(bundled_names()) + "; or pass the path of a .toml file",
        code="unknown_scenario",
    )


def _read(path: Path) -> str:
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise BadInputError(
            f"cannot read scenario file {path}: {exc.strerror}",
            hint="check the file's permissions",
            code="unreadable_file",
        ) from None
    if len(raw) > MAX_FILE_BYTES:
        raise BadInputError(
            f"scenario file {path} is over {MAX_FILE_BYTES // 1024} KiB",
            hint="a scenario is a short TOML file: is this the right file?",
            code="invalid_scenario",
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise BadInputError(
            f"scenario file {path}, line {line}: not UTF-8 (byte {exc.start})",
            hint="save the file as UTF-8 (TOML requires it)",
            code="invalid_scenario",
        ) from None


def parse_scenario(text: str, *, name: str, origin: str) -> Scenario:
    """Parse and check a scenario's TOML; every problem is one line naming the line, the step and the key."""
    where = "bundled scenario " + name if origin == "bundled" else f"scenario file {origin}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInputError(
            f"{where}: not valid TOML: {exc}", hint="fix the syntax at that line (https://toml.io)", code="invalid_toml"
        ) from None
    try:
        description, steps = _check_scenario(data)
    except _Problem as problem:
        raise _located(problem, text, data, where) from None
    return Scenario(name, description, steps, origin, text)


def _located(problem: _Problem, text: str, data: dict[str, Any], where: str) -> BadInputError:
    line = locate_key(text, problem.step, problem.keys, _step_count(data))
    parts = [where] + ([f"line {line}"] if line else [])
    parts += [f"step {problem.step + 1}"] if problem.step is not None else []
    if problem.keys:
        parts.append(f"key '{'.'.join(problem.keys)}'")
    return BadInputError(f"{', '.join(parts)}: {problem.message}", hint=problem.hint, code="invalid_scenario")


def _step_count(data: dict[str, Any]) -> int:
    steps = data.get("step")
    return len(steps) if isinstance(steps, list) else 0


def _check_scenario(data: dict[str, Any]) -> tuple[str, tuple[ScenarioStep, ...]]:
    _no_unknown_keys(data, SCENARIO_KEYS, None, ())
    description = data.get("description", "")
    if not isinstance(description, str):
        raise _Problem(None, ("description",), f"must be a string, not {_kind(description)}")
    raw_steps = data.get("step")
    if raw_steps is None:
        raise _Problem(None, (), "no steps", hint="add at least one [[step]] table with an event = ...")
    if not isinstance(raw_steps, list) or not all(isinstance(s, dict) for s in raw_steps):
        raise _Problem(None, ("step",), "must be an array of tables ([[step]] ... [[step]])")
    if not raw_steps or len(raw_steps) > MAX_STEPS:
        raise _Problem(None, ("step",), f"a scenario has 1 to {MAX_STEPS} steps, this one {len(raw_steps)}")
    return description, tuple(_check_step(i, raw) for i, raw in enumerate(raw_steps))


def _check_step(i: int, raw: dict[str, Any]) -> ScenarioStep:
    _no_unknown_keys(raw, STEP_KEYS, i, ())
    event = _string(raw, "event", i, required=True)
    if event not in EVENT_TYPES:
        raise _Problem(i, ("event",), f"unknown event {event!r}", hint="valid events: " + ", ".join(EVENT_TYPES))
    is_status = event == "message_status"
    own, other = ("status", "content_type") if is_status else ("content_type", "status")
    for key in (other, "contact" if is_status else "message"):
        if key in raw:
            raise _Problem(i, (key,), f"applies to {_other_event(event)} steps, not {event}", hint=f"drop {key}")
    variant = _string(raw, own, i) or DEFAULT_VARIANT[event]
    choices = STATUSES if is_status else CONTENT_TYPES
    if variant not in choices:
        raise _Problem(i, (own,), f"unknown {own.replace('_', ' ')} {variant!r}", hint="valid: " + ", ".join(choices))
    overrides = _overrides(raw, i, f"{event}/{variant}")
    return ScenarioStep(
        index=i + 1,
        name=_string(raw, "name", i) or variant,
        event=event,
        variant=variant,
        message=_string(raw, "message", i) or DEFAULT_ALIAS,
        contact=_string(raw, "contact", i) or DEFAULT_ALIAS,
        overrides=overrides,
        delay_s=_number(raw, "delay", i, (), 0.0, MAX_DELAY_S, inclusive_min=True) or 0.0,
        expect=_expectation(raw.get("expect"), i),
    )


def _other_event(event: str) -> str:
    return next(e for e in EVENT_TYPES if e != event)


def _overrides(raw: dict[str, Any], i: int, label: str) -> tuple[str, ...]:
    value = raw.get("set", [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Problem(i, ("set",), 'must be an array of "path=value" strings, as --set takes them')
    try:  # tried on the bundled payload of the same event, so a path that cannot fit fails now
        apply_overrides(find_fixture(label).load(), value)
    except BadInputError as err:
        raise _Problem(i, ("set",), err.message, hint=err.hint or FORMAT_HINT) from None
    return tuple(value)


def _expectation(raw: Any, i: int) -> Expectation:
    if raw is None:
        return Expectation()
    if not isinstance(raw, dict):
        raise _Problem(i, ("expect",), f"must be a table, not {_kind(raw)}")
    _no_unknown_keys(raw, EXPECT_KEYS, i, ("expect",))
    status = raw.get("status")
    if status is not None and status != "2xx" and not (type(status) is int and 100 <= status <= 599):
        raise _Problem(i, ("expect", "status"), f'{status!r} is not "2xx" or a status code 100-599')
    pairs: tuple[tuple[str, Any], ...] = ()
    if "json" in raw:
        table = raw["json"]
        if not isinstance(table, dict) or not table:
            raise _Problem(i, ("expect", "json"), "must be a non-empty table of paths and values, e.g. { ok = true }")
        pairs = tuple(_flatten(table))
        for path, value in pairs:
            if _has_datetime(value):
                raise _Problem(i, ("expect", "json", *path.split(".")), "a TOML date or time cannot appear in JSON")
    latency = _number(raw, "max_latency", i, ("expect",), 0.0, None, inclusive_min=False)
    return Expectation(status, latency, pairs)


def _flatten(table: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """`{ data = { status = "read" } }` and `{ "data.status" = "read" }` both check data.status."""
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from _flatten(value, path + ".")
        else:
            yield path.removeprefix("$."), value


def _has_datetime(value: Any) -> bool:
    if isinstance(value, datetime.date | datetime.time):
        return True
    if isinstance(value, list):
        return any(_has_datetime(v) for v in value)
    return isinstance(value, dict) and any(_has_datetime(v) for v in value.values())


def _no_unknown_keys(raw: dict[str, Any], known: tuple[str, ...], i: int | None, at: tuple[str, ...]) -> None:
    for key in raw:
        if key not in known:
            raise _Problem(i, (*at, key), "unknown key", hint="valid keys here: " + ", ".join(known))


def _string(raw: dict[str, Any], key: str, i: int, *, required: bool = False) -> str | None:
    value = raw.get(key)
    if value is None:
        if required:
            raise _Problem(i, (key,), "missing", hint=f"every step needs {key} = one of " + ", ".join(EVENT_TYPES))
        return None
    if not isinstance(value, str) or not value.strip():
        raise _Problem(i, (key,), f"must be a non-empty string, not {_kind(value)}")
    return value


def _number(
    raw: dict[str, Any],
    key: str,
    i: int,
    at: tuple[str, ...],
    low: float,
    high: float | None,
    inclusive_min: bool,
) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise _Problem(i, (*at, key), f"must be a number of seconds, not {_kind(value)}")
    too_low = value < low if inclusive_min else value <= low
    if too_low or (high is not None and value > high):
        bound = f"{'at least' if inclusive_min else 'more than'} {low:g}" + (f" and at most {high:g}" if high else "")
        raise _Problem(i, (*at, key), f"{value:g} s is out of range: {bound} seconds")
    return float(value)


def _kind(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array"}
    return names.get(type(value), "a table" if isinstance(value, dict) else "a date or time")
