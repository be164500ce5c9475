"""The selection options `events list` and `replay` share (--event, --status, --since, ..., --record)."""

from pathlib import Path
from typing import Annotated

import typer

EventFilterOption = Annotated[
    list[str] | None,
    typer.Option("--event", help="Only this event type: message_status, incoming_message (repeatable, or a,b)."),
]
StatusFilterOption = Annotated[
    list[str] | None,
    typer.Option("--status", help="Only this data.status: sent, delivered, read, failed (repeatable, or a,b)."),
]
SinceOption = Annotated[
    str | None,
    typer.Option("--since", help="Received at or after: ISO 8601 (UTC unless an offset is given) or an age: 10m, 2h."),
]
UntilOption = Annotated[
    str | None,
    typer.Option("--until", help="Received at or before: ISO 8601 or an age (like --since)."),
]
WhereOption = Annotated[
    list[str] | None,
    typer.Option(
        "--where", help="Only where a body field equals a value: data.phone_number=8801734363287 (repeatable)."
    ),
]
LastOption = Annotated[int | None, typer.Option("--last", help="Only the last N matching requests.")]
RecordOption = Annotated[
    Path | None,
    typer.Option("--record", help="The recording to read (default: the newest one `whatsable listen` wrote)."),
]
StrictOption = Annotated[
    bool, typer.Option("--strict", help="Fail (exit 7) on a corrupt recording line instead of skipping it.")
]
