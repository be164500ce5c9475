"""Typer and click do their jobs: help at 80 columns with word metavars and every option name whole, the main
jobs listed first, -h, examples at the end, choices checked by click (exit 2, "did you mean"; filter values too),
and shell completion."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main

from tests.support.helpers import run_cli
from tests.support.recordings import recorded, status_body, write_recording
from whatsable_cli.cli import app
from whatsable_cli.commands import choices
from whatsable_cli.listen.model import RESPOND_200, RESPOND_RELAY
from whatsable_cli.render.listen import OUTPUT_MODES
from whatsable_cli.webhooks import events, schemes

TYPE_NAMES = re.compile(r"<(?:str|int|float|bool|path|int range|float range|list\[[^>]*\])>")


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = [(path, command)]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found += _commands(sub, (*path, name))
    return found


COMMANDS = _commands(typer.main.get_command(app))
LEAVES = [(path, command) for path, command in COMMANDS if not getattr(command, "commands", None)]


def _help(path: tuple[str, ...], flag: str = "-h", columns: int = 80) -> str:
    run = run_cli(*path, flag, env={"COLUMNS": str(columns)})
    assert run.exit_code == 0, run.stderr
    return run.stdout


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) or "whatsable" for p, _ in COMMANDS])
def test_help_at_80_columns_names_every_option_whole_with_words_for_values(path: tuple[str, ...], command: Any) -> None:
    text = _help(path)
    assert not TYPE_NAMES.findall(text), TYPE_NAMES.findall(text)  # URL, PATH, SECONDS: not <str>, <path>
    assert not re.search(r"--[\w-]*…", text)  # no option name cut short
    for param in command.params:
        for name in (*param.opts, *param.secondary_opts):
            if name.startswith("-"):
                assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text), f"{name} missing from help"
    assert max(len(line) for line in text.splitlines()) <= 80
    assert text == _help(path, "--help")  # -h is --help


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=[" ".join(p) for p, _ in LEAVES])
def test_each_command_ends_with_two_or_three_examples(path: tuple[str, ...], command: Any) -> None:
    text = _help(path)
    lines = [line.strip() for line in text.split(" Examples ", 1)[-1].splitlines() if line.strip()]
    assert " Examples " in text and 2 <= len(lines) <= 3, text
    assert all(f"whatsable {' '.join(path)}" in line for line in lines[:1])  # the first runs the command itself


def test_help_lists_the_main_jobs_first() -> None:
    run = run_cli("--help", env={"COLUMNS": "100"})
    assert run.stdout.index("│ listen ") < run.stdout.index("│ send-test ") < run.stdout.index("│ replay ")
    assert run.stdout.index("│ replay ") < run.stdout.index("│ verify ") < run.stdout.index("│ secret ")


def test_flags_show_no_type_and_the_help_option_is_h() -> None:
    text = _help(("listen",))
    no_tunnel = next(line for line in text.splitlines() if "--no-tunnel" in line)
    assert re.search(r"--no-tunnel\s+Serve locally", no_tunnel)
    assert re.search(r"--help\s+-h\s+Show this message", text)


def test_choices_are_listed_checked_and_a_typo_gets_a_suggestion() -> None:
    assert "One of: pretty, compact, json, quiet." in _help(("listen",), columns=200)
    run = run_cli("listen", "--no-tunnel", "--output", "prety")
    said = " ".join(run.stderr.replace("│", " ").split())
    assert run.exit_code == 2
    assert "Invalid value for '--output' / '-o'" in said and "Did you mean 'pretty'?" in said
    run = run_cli("send-test", "http://127.0.0.1:9/", "--status", "delivred")
    assert run.exit_code == 2 and "Did you mean 'delivered'?" in " ".join(run.stderr.replace("│", " ").split())


@pytest.mark.parametrize(
    ("option", "typo", "valid"),
    [("--status", "deliverd", "sent, delivered, read, failed"), ("--event", "incomming_message", "message_status")],
)
@pytest.mark.parametrize("command", ["events list", "replay"])
def test_a_filter_value_that_can_never_match_is_a_usage_error(
    tmp_path: Path, command: str, option: str, typo: str, valid: str
) -> None:
    # It answered "no recorded requests match" (exit 0): a typo looked like an empty recording.
    path = write_recording(tmp_path / "rec.jsonl", [recorded(1, status_body(1))])
    extra = ["--to", "http://127.0.0.1:9/"] if command == "replay" else ["--record"]
    run = run_cli(*command.split(), *extra, str(path), option, typo)
    assert run.exit_code == 2, run.stdout + run.stderr
    said = " ".join(run.stderr.replace("│", " ").split())
    assert f"Invalid value for '{option}': '{typo}' is not one of" in said and valid in said
    assert "did you mean" in said


def test_the_choices_are_the_ones_the_tool_knows() -> None:
    assert set(choices.values(choices.SignScheme)) == set(schemes.scheme_names(with_aliases=True))
    assert set(choices.values(choices.VerifyScheme)) == set(schemes.scheme_names(with_auto=True, with_aliases=True))
    assert set(events.EVENT_TYPES) <= set(choices.values(choices.EventType)) <= set(events.EVENT_KINDS)
    assert choices.values(choices.EventKind) == (*events.EVENT_KINDS, events.KIND_UNKNOWN, events.KIND_NOT_JSON)
    assert choices.values(choices.Status) == events.STATUSES
    assert choices.values(choices.Respond) == (RESPOND_RELAY, RESPOND_200)
    assert choices.values(choices.Display) == OUTPUT_MODES
    assert set(choices.values(choices.ContentType)) >= set(events.CONTENT_TYPES)


def _complete(words: str) -> list[str]:
    """What bash completion offers for the last word (the real console script, as the shell would run it)."""
    env = {
        **os.environ,
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
        "_WHATSABLE_COMPLETE": "complete_bash",
    }
    script = str(Path(sys.executable).parent / "whatsable")  # the console script a shell runs
    done = subprocess.run([script], env=env, capture_output=True, text=True, timeout=30, check=False)
    return done.stdout.split()


def test_shell_completion_offers_the_values_of_an_option() -> None:
    assert _complete("whatsable listen --output ") == ["pretty", "compact", "json", "quiet"]
    assert _complete("whatsable listen --route inc") == ["incoming_message="]
    assert _complete("whatsable events list --event message_status,in") == ["message_status,incoming_message"]
    assert "send-test" in _complete("whatsable se")


def test_completion_can_be_installed() -> None:
    # What `whatsable --install-completion` writes to ~/.bashrc's sourced file, asked for explicitly.
    script = str(Path(sys.executable).parent / "whatsable")
    env = {**os.environ, "_WHATSABLE_COMPLETE": "source_bash"}
    done = subprocess.run([script], env=env, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0 and "_WHATSABLE_COMPLETE=complete_bash" in done.stdout
    assert "--install-completion" in _help(())
