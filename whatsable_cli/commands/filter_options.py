"""The selection options `events list` and `replay` share (--event, --status, --since, ..., --record)."""

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from whatsable_cli.commands.choices import EventKind, Status, one_of, values
from whatsable_cli.commands.help import did_you_mean
from whatsable_cli.commands.options import check_each
from whatsable_cli.errors import BadInputError


def _comma_choices(choices: type[StrEnum]) -> Callable[[str], None]:
    """A check for `--event a,b` (a comma list, or the option repeated): each name must be one of `choices`,
    since a typo would match nothing and look like an empty history."""

    def check(value: str) -> None:
        valid = values(choices)
        for name in (part.strip() for part in value.split(",")):
            if name and name not in valid:
                raise BadInputError(f"{name!r} is not one of {', '.join(valid)}{did_you_mean(name, valid)}")

    return check


def _complete_comma_choices(choices: type[StrEnum]) -> Callable[[str], list[str]]:
    """Completion of the name after the last comma."""

    def complete(incomplete: str) -> list[str]:
        head, _, last = incomplete.rpartition(",")
        prefix = f"{head}," if head else ""
        return [prefix + name for name in values(choices) if name.startswith(last)]

    return complete


def _check_time(value: str) -> None:
    from whatsable_cli.recording.query import parse_time

    parse_time(value)


def _check_where(value: str) -> None:
    from whatsable_cli.recording.query import build_filters

    build_filters(where=[value])


def _choice_filter(option: str, choices: type[StrEnum], what: str) -> Any:
    return typer.Option(
        option,
        metavar=option.removeprefix("--").upper(),
        help=f"Only {what} (repeatable, or a,b). {one_of(choices)}",
        callback=check_each(_comma_choices(choices)),
        autocompletion=_complete_comma_choices(choices),
    )


EventFilterOption = Annotated[list[str] | None, _choice_filter("--event", EventKind, "this event type")]
StatusFilterOption = Annotated[list[str] | None, _choice_filter("--status", Status, "this data.status")]
SinceOption = Annotated[
    str | None,
    typer.Option(
        "--since",
        metavar="TIME",
        help="Received at or after: ISO 8601 (local time unless an offset is given) or an age: 10m, 2h.",
        callback=check_each(_check_time),
    ),
]
UntilOption = Annotated[
    str | None,
    typer.Option(
        "--until",
        metavar="TIME",
        help="Received at or before: ISO 8601 or an age (like --since).",
        callback=check_each(_check_time),
    ),
]
WhereOption = Annotated[
    list[str] | None,
    typer.Option(
        "--where",
        metavar="PATH=VALUE",
        help="Only where a body field equals a value, e.g. data.status=read (repeatable).",
        callback=check_each(_check_where),
    ),
]
LastOption = Annotated[int | None, typer.Option("--last", min=1, metavar="N", help="Only the last N matching.")]
RecordOption = Annotated[
    Path | None,
    typer.Option(
        "--record", metavar="PATH", help="The recording to read (default: the newest one `whatsable listen` wrote)."
    ),
]
StrictOption = Annotated[
    bool, typer.Option("--strict", help="Fail (exit 7) on a corrupt recording line instead of skipping it.")
]
