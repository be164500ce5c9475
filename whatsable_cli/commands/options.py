"""Options shared by several commands, and parsing of option values the user types."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from whatsable_cli.errors import BadInputError

SecretOption = Annotated[
    str | None,
    typer.Option(
        "--secret",
        envvar="WHATSABLE_SECRET",
        show_envvar=True,
        help="Signing secret (never printed). Also read from the config file.",
    ),
]
SchemeOption = Annotated[
    str | None,
    typer.Option(
        "--scheme",
        envvar="WHATSABLE_SCHEME",
        show_envvar=True,
        help="Signature scheme: whatsable (default), standard, svix.",
    ),
]
# The scheme a received request is checked with (verify, doctor): `auto` reads it from its headers.
AutoSchemeOption = Annotated[
    str | None,
    typer.Option(
        "--scheme",
        envvar="WHATSABLE_SCHEME",
        show_envvar=True,
        help="auto (from the headers, the default), whatsable, standard, svix.",
    ),
]


class OutputMode:
    """Whether the running command was asked for JSON: its errors then go to stdout as a JSON object too."""

    json = False


def _remember_json(value: bool) -> bool:
    OutputMode.json = OutputMode.json or value
    return value


JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON on stdout (NDJSON for streams).", callback=_remember_json)
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", envvar="WHATSABLE_CONFIG", help="Config file (default: ./whatsable.toml)."),
]
HeaderOption = Annotated[
    list[str] | None,
    typer.Option("-H", "--header", help="Extra header 'Name: value' (repeatable)."),
]
ShowSecretsOption = Annotated[
    bool, typer.Option("--show-secrets", help="Show signature header values instead of redacting them.")
]


def parse_headers(values: list[str] | None) -> list[tuple[str, str]]:
    """Parse repeated `-H 'Name: value'` options, keeping order and duplicates."""
    headers: list[tuple[str, str]] = []
    for raw in values or []:
        name, sep, value = raw.partition(":")
        name = name.strip()
        if not sep or not name or any(c.isspace() for c in name):
            raise BadInputError(
                f"malformed header {raw!r}",
                hint="write headers as -H 'Name: value'",
                code="malformed_header",
            )
        headers.append((name, value.strip()))
    return headers


def read_body_source(source: str) -> bytes:
    """The exact bytes of a body file, or of stdin for `-`; an unreadable file is bad input (exit 7)."""
    if source == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise BadInputError(
            f"cannot read body file {source}: {exc.strerror}",
            hint="pass a readable file with the exact raw body, or - for stdin",
            code="unreadable_file",
        ) from None
