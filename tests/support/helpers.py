"""Helpers the tests share: running the CLI in-process with stdout and stderr kept apart."""

from __future__ import annotations

from dataclasses import dataclass

from typer.testing import CliRunner

from whatsable_cli.cli import app


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str


def run_cli(*args: str, input: str | bytes | None = None, env: dict[str, str] | None = None) -> Run:
    """Invoke `whatsable ARGS` in-process, as a user would from a shell."""
    result = CliRunner().invoke(app, list(args), input=input, env=env, catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)
