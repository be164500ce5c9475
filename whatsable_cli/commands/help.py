"""How every command's help and usage errors look: -h, words for values (none on flags), examples last, and
"did you mean" for a typo; applied to every command registered on the app, whoever added it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

_REQUIRED = re.compile(r"^\{(.+)\}((?:\.\.\.)?)$")  # typer's `{URL}`, `{FILE}...`
# Context settings for the app: inherited by every command and group under it.
CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}


def suggestion(value: str, choices: Iterable[str]) -> str | None:
    """The valid value a typo most likely meant, if one is close enough."""
    import difflib  # only when something is wrong: not on every start

    found = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)`, or nothing."""
    close = suggestion(value, choices)
    return f" (did you mean {close!r}?)" if close else ""


class _WordArgument(TyperArgument):
    """An argument whose word (its metavar, e.g. URL) says what it is: help shows no `<str>` next to it."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None if self.metavar else super().display_type_rich(ctx)


def _quiet_flags(params: Iterable[Any]) -> None:
    """A flag takes no value: help shows no type next to it (typer would show `<bool>`); nor does an argument
    named by a word."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
        elif type(param) is TyperArgument and param.metavar:
            param.__class__ = _WordArgument  # the same object, its help drawn without the type


def _typed_values(param: Any, args: Sequence[str]) -> list[str]:
    """The values given to an option on the command line: `--opt v`, `--opt=v`, `-o v`."""
    typed: list[str] = []
    for index, arg in enumerate(args):
        for name in param.opts:
            if arg == name and index + 1 < len(args):
                typed.append(args[index + 1])
            elif name.startswith("--") and arg.startswith(name + "="):
                typed.append(arg[len(name) + 1 :])
    return typed


def _with_suggestion(err: typer.BadParameter, ctx: typer.Context, args: Sequence[str]) -> None:
    """click says a value is not one of the choices; add which one was probably meant."""
    param = err.param
    if param is None or not getattr(param, "opts", None) or "did you mean" in err.message.lower():
        return
    try:
        valid = [item.value for item in param.shell_complete(ctx, "")]
    except Exception:  # completion is best effort: the plain error is still right
        return
    for typed in _typed_values(param, args):
        if typed not in valid:
            close = suggestion(typed, valid)
            if close:
                err.message = f"{err.message} Did you mean {close!r}?"
            return


class NativeCommand(TyperCommand):
    """A command whose help and usage errors follow the conventions above."""

    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)  # its options, and -h/--help
        _quiet_flags(params)
        return params

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        """`Usage: whatsable send-test [OPTIONS] URL`: a required argument bare, as click writes it (typer
        would write `{URL}`)."""
        pieces: list[str] = super().collect_usage_pieces(ctx)
        return [_REQUIRED.sub(r"\1\2", piece) for piece in pieces]

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        original = list(args)
        try:
            return super().parse_args(ctx, args)
        except typer.BadParameter as err:
            _with_suggestion(err, ctx, original)
            raise


class NativeGroup(TyperGroup):
    """A group (the app, `events`, `fixtures`, ...) with the same conventions for its own options."""

    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)  # --version, the completion options, -h/--help
        _quiet_flags(params)
        return params


def apply_conventions(app: typer.Typer, examples: dict[str, str], prefix: str = "") -> None:
    """Every command and group registered on `app` (and under it) gets the classes above, and its examples as
    the help's epilog unless it has one: commands added later by any module follow the same rules."""
    for command in app.registered_commands:
        name = command.name or (command.callback.__name__.replace("_", "-") if command.callback else "")
        if command.cls in (None, TyperCommand):  # typer's default: no class of the command's own
            command.cls = NativeCommand
        path = f"{prefix}{name}"
        if not command.epilog and path in examples:
            command.epilog = examples[path]
    for group in app.registered_groups:
        if not isinstance(group.cls, type) or group.cls is TyperGroup:  # typer's default (or its placeholder)
            group.cls = NativeGroup
        if group.typer_instance is not None:
            apply_conventions(group.typer_instance, examples, f"{prefix}{group.name} ")
