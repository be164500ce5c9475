"""`--set path=value` overrides: edit a payload (or a body's JSON) before it is sent."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from typing import Any

from whatsable_cli.errors import BadInputError
from whatsable_cli.webhooks.events import JsonObject


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
