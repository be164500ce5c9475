"""Consoles for stdout (data) and stderr (everything else), and the shared error/warning lines."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape

from whatsable_cli.errors import WhatsableError


def stdout_console() -> Console:
    """Data goes here. rich already honours NO_COLOR, non-TTY output and the terminal width."""
    return Console(file=sys.stdout, highlight=False, soft_wrap=False)


def stderr_console() -> Console:
    """Progress, warnings, errors and hints go here, so stdout stays clean for pipes."""
    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def print_error(err: WhatsableError, console: Console | None = None) -> None:
    console = console or stderr_console()
    console.print(f"[bold red]error:[/] {escape(err.message)}")
    if err.hint:
        console.print(f"[dim]hint:[/] {escape(err.hint)}")


def print_warning(message: str, console: Console | None = None) -> None:
    (console or stderr_console()).print(f"[yellow]warning:[/] {escape(message)}")


def print_note(message: str, console: Console | None = None) -> None:
    """Context worth a glance (which file was read), on stderr and dimmed: not a problem."""
    (console or stderr_console()).print(escape(message), style="dim")


def print_json(value: Any) -> None:
    """One JSON document (or one NDJSON line) on stdout, no colour, no wrapping."""
    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")
    sys.stdout.flush()
