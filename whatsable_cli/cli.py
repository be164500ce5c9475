"""The Typer application: registers the commands and turns errors into exit codes in one place."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

from whatsable_cli import __version__
from whatsable_cli.commands import (
    doctor,
    events,
    fixtures,
    inspect,
    listen,
    replay,
    scenarios,
    secret,
    send_test,
    verify,
)
from whatsable_cli.commands.examples import EXAMPLES
from whatsable_cli.commands.help import CONTEXT_SETTINGS, NativeGroup, apply_conventions
from whatsable_cli.commands.options import OutputMode
from whatsable_cli.errors import ExitCode, WhatsableError


class WhatsableGroup(NativeGroup):
    """Maps every WhatsableError to its one-line message, hint and documented exit code."""

    def invoke(self, ctx: Any) -> Any:  # typer.core declares its vendored Context
        OutputMode.json = False  # set by --json while the command's options are parsed
        try:
            return super().invoke(ctx)
        except WhatsableError as err:
            from whatsable_cli.render.console import print_error, print_json

            print_error(err)
            if OutputMode.json:  # a script reading stdout learns what failed, by its stable code
                print_json({"type": "error", **err.to_dict()})
            raise typer.Exit(int(err.exit_code)) from None
        except (typer.TyperException, typer.Exit, typer.Abort, KeyboardInterrupt):
            raise  # usage errors (2), deliberate exits, and Ctrl-C (130) are Typer's to report
        except BrokenPipeError:
            # `whatsable events list | head`: the reader has seen enough. Point stdout at /dev/null so the
            # interpreter's final flush cannot fail again, and exit quietly.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(int(ExitCode.OK)) from None
        except Exception as exc:
            if os.environ.get("WHATSABLE_DEBUG"):
                raise
            from whatsable_cli.render.console import print_error

            print_error(
                WhatsableError(
                    f"unexpected error: {type(exc).__name__}: {exc}",
                    hint="run again with WHATSABLE_DEBUG=1 for the traceback, and please report it",
                )
            )
            raise typer.Exit(int(ExitCode.UNEXPECTED)) from None


app = typer.Typer(
    cls=WhatsableGroup,
    name="whatsable",
    help="The webhook developer tool for WhatsAble: listen, send-test, replay, verify.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion: bash, zsh, fish, PowerShell
    context_settings=CONTEXT_SETTINGS,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"whatsable {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """The webhook developer tool for WhatsAble: listen, send-test, replay, verify."""


# The order `whatsable --help` lists them in: the main jobs first, as in the README (groups come after commands).
for module in (listen, send_test, replay, verify, doctor, events, inspect, fixtures, scenarios, secret):
    module.register(app)
apply_conventions(app, EXAMPLES)  # -h, word metavars, examples: for every command, whoever added it


def main() -> None:
    """Console-script entry point."""
    app()
