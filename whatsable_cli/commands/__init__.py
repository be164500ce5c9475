"""The command layer: each command turns options into settings, calls one service, renders, exits."""

# No `from __future__ import annotations` in command modules: Typer reads every option's annotation
# on each start, and string annotations cost a compile + eval each (about 12 ms of `whatsable --help`).
# Types only imported under TYPE_CHECKING are written quoted instead.
