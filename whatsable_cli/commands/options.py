"""Options shared by several commands, and parsing of option values the user types."""

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from whatsable_cli.commands.choices import PayloadFamily, SignScheme, VerifyScheme, one_of
from whatsable_cli.errors import BadInputError

if TYPE_CHECKING:
    from whatsable_cli.config import Config

SECRET_ENV = "WHATSABLE_SECRET"  # noqa: S105 (the variable's name, not a secret)


OptionCallback = Callable[[typer.Context, typer.CallbackParam, Any], Any]


def check_each(parse: Callable[[Any], object]) -> OptionCallback:
    """A click callback that runs one of the tool's own parsers on an option's value (each value of a repeated
    option): a value it refuses is click's bad-parameter error, exit 2, like every other bad option value. The
    same parser still refuses a bad value from the config file as bad input (exit 7)."""

    def callback(ctx: typer.Context, param: typer.CallbackParam, value: Any) -> Any:
        if value is None or ctx.resilient_parsing:  # not given, or shell completion parsing a half-typed line
            return value
        for item in value if isinstance(value, list | tuple) else (value,):
            try:
                parse(item)
            except BadInputError as err:
                hint = f"; {err.hint}" if err.hint else ""
                # the parameter the callback was given is the one click names in the error (typer's own class)
                named: Any = param
                raise typer.BadParameter(f"{err.message}{hint}", ctx=ctx, param=named) from None
        return value

    return callback


SecretOption = Annotated[
    str | None,
    typer.Option(
        "--secret",
        envvar=SECRET_ENV,
        metavar="SECRET",
        show_envvar=True,
        help="Signing secret (never printed). Also read from the config file.",
    ),
]
SchemeOption = Annotated[
    SignScheme | None,
    typer.Option(
        "--scheme",
        envvar="WHATSABLE_SCHEME",
        show_envvar=True,
        metavar="SCHEME",
        help=f"Signature scheme (default whatsable-hmac; whatsable is its alias). {one_of(SignScheme)}",
    ),
]
# The scheme a received request is checked with (listen, verify, doctor): `auto` reads it from its headers.
AutoSchemeOption = Annotated[
    VerifyScheme | None,
    typer.Option(
        "--scheme",
        envvar="WHATSABLE_SCHEME",
        show_envvar=True,
        metavar="SCHEME",
        help=f"Signature scheme; auto (the default): whichever the request's headers and the secret fit. "
        f"{one_of(VerifyScheme)}",
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
    typer.Option(
        "--config", envvar="WHATSABLE_CONFIG", metavar="PATH", help="Config file (default: ./whatsable.toml)."
    ),
]


def _check_header(value: str) -> None:
    parse_headers([value])


HeaderOption = Annotated[
    list[str] | None,
    typer.Option(
        "-H",
        "--header",
        metavar="HEADER",
        help="Extra header 'Name: value' (repeatable).",
        callback=check_each(_check_header),
    ),
]
ShowSecretsOption = Annotated[
    bool, typer.Option("--show-secrets", help="Show signature header values instead of redacting them.")
]


def _positive_seconds(value: float) -> None:
    if not value > 0:
        raise BadInputError(f"{value:g} is not a duration: give a number of seconds above 0")


positive_seconds = check_each(_positive_seconds)  # a callback for the timeouts and waits


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
        if sys.stdin.isatty():  # otherwise the command seems to hang
            from whatsable_cli.render.console import print_note

            print_note("reading the body from stdin: paste it, then press Ctrl-D (or pipe it: cat body.json | …)")
        return sys.stdin.buffer.read()
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise BadInputError(
            f"cannot read body file {source}: {exc.strerror}",
            hint="pass a readable file with the exact raw body, or - for stdin",
            code="unreadable_file",
        ) from None


@dataclass(frozen=True)
class SecretChoice:
    """The signing secret in force and where it came from (the value is never shown)."""

    value: str | None  # None: no secret, or an empty one
    source: str | None  # "--secret", "WHATSABLE_SECRET", "config PATH"; None when there is none
    empty: bool = False  # one was given, but it is empty (an unset CI secret, a fork's pull request)


def pick_secret(ctx: typer.Context, flag: str | None, config: "Config") -> SecretChoice:
    """--secret > WHATSABLE_SECRET > the config file, remembering which gave it.

    click reads an environment variable that is set but empty as unset; a CI job whose secret is missing
    (a pull request from a fork) gets exactly that, so it is told apart here: given, and empty.
    """
    if flag is not None:
        source = SECRET_ENV if given_from_environment(ctx, "secret") else "--secret"
        return SecretChoice(flag or None, source, empty=not flag)
    if os.environ.get(SECRET_ENV) == "":
        return SecretChoice(None, SECRET_ENV, empty=True)
    configured = config.get("secret")
    if configured is None:
        return SecretChoice(None, None)
    return SecretChoice(str(configured) or None, f"config {config.path}", empty=not str(configured))


def given_from_environment(ctx: typer.Context, name: str) -> bool:
    """Whether an option's value came from its environment variable rather than the command line."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "ENVIRONMENT"


def given_on_command_line(ctx: typer.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "COMMANDLINE"


def empty_secret_error(choice: SecretChoice) -> BadInputError:
    """An empty secret would send unsigned requests and pass without testing a signature: refused."""
    where = {"--secret": "--secret is empty", SECRET_ENV: f"{SECRET_ENV} is set but empty"}.get(
        choice.source or "", f"the secret in {choice.source} is empty"
    )
    return BadInputError(
        f"no signing secret: {where}",
        hint="an unset CI secret (or a pull request from a fork) looks like this: set the secret, or pass "
        "--allow-unsigned to send unsigned events on purpose (the security checks are then reported skipped)",
        code="empty_secret",
    )


def resign_without_secret(choice: SecretChoice) -> BadInputError:
    where = f": {empty_secret_error(choice).message.removeprefix('no signing secret: ')}" if choice.empty else ""
    return BadInputError(
        f"--resign needs a signing secret{where}",
        hint="pass --secret, set WHATSABLE_SECRET or put `secret` in whatsable.toml; or drop --resign to send the "
        "recorded signatures as they are",
        code="no_secret",
    )


def sending_scheme(value: object) -> str:
    """The scheme to sign with: `auto` (which a shared config file may hold for `listen`) means the default."""
    name = str(value or "whatsable").lower()
    return "whatsable" if name == "auto" else name


PayloadFormatOption = Annotated[
    PayloadFamily | None,
    typer.Option(
        "--format",
        metavar="FAMILY",
        help="Payload family: envelope (WhatsAble's webhooks guide: {event, data}) or flat (its message webhooks "
        f"and Bot pages: the fields at the top level, outgoing messages, ad referrals). {one_of(PayloadFamily)}",
        case_sensitive=False,
    ),
]
