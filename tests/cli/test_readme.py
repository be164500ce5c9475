"""The README stays true: every option a `whatsable` command line in it uses exists on that command, and the
pictures it shows are in the repository."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import typer.main

from whatsable_cli.cli import app

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def _command_lines(text: str) -> list[str]:
    """`whatsable ...` invocations in the README's shell blocks (after a pipe too), comments dropped."""
    lines: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            code = line.split(" # ", 1)[0]
            for part in code.split("|"):
                part = part.strip()
                if part.startswith("whatsable "):
                    lines.append(part)
    return lines


def _resolve(words: list[str]) -> tuple[Any, list[str]]:
    command: Any = typer.main.get_command(app)
    rest = words[1:]
    while rest and getattr(command, "commands", None) and rest[0] in command.commands:
        command, rest = command.commands[rest[0]], rest[1:]
    return command, rest


def _options(command: Any) -> set[str]:
    names = {"-h", "--help"}
    for param in command.params:
        names.update(param.opts + param.secondary_opts)
    return names


def test_every_option_in_the_readme_exists_on_its_command() -> None:
    lines = _command_lines(README.read_text(encoding="utf-8"))
    assert len(lines) > 40
    unknown = []
    for line in lines:
        try:
            words = shlex.split(line)
        except ValueError:
            words = line.split()
        command, rest = _resolve(words)
        assert not getattr(command, "commands", None) or rest == [] or rest[0].startswith("-"), line
        for word in rest:
            if word.startswith("-") and word != "-" and not re.fullmatch(r"-\d.*", word):
                name = word.split("=", 1)[0]
                if name not in _options(command):
                    unknown.append(f"{name} in: {line}")
    assert unknown == []


def test_the_pictures_are_in_the_repository() -> None:
    text = README.read_text(encoding="utf-8")
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert "docs/listen.svg" in pictures and "docs/send-test.svg" in pictures
    assert all((ROOT / picture).is_file() for picture in pictures)
    assert text.index("docs/send-test.svg") < text.index("## Reference")  # in the walkthrough, on top


def test_the_linked_documents_exist() -> None:
    text = README.read_text(encoding="utf-8")
    for link in re.findall(r"\]\((docs/[^)#]+\.md)\)", text):
        assert (ROOT / link).is_file(), link
