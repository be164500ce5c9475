"""Before `listen` opens a tunnel: the ngrok agent is installed, or downloaded (asked first on a terminal)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import typer

Install = Callable[[Path], None]
Confirm = Callable[[str], bool]


def _pyngrok_install(path: Path) -> None:
    from whatsable_cli.tunnel.ngrok import install_agent

    install_agent(path)


def _ask_on_terminal(question: str) -> bool:
    return typer.confirm(question, default=True, err=True)  # the prompt on stderr: stdout is data


def agent_ready(
    ngrok_path: str | None,
    *,
    yes: bool,
    interactive: bool | None = None,
    install: Install | None = None,
    confirm: Confirm | None = None,
) -> None:
    """Make sure the ngrok agent is there. When it is missing from the default location: on a terminal ask
    first (unless --yes); without one there is nobody to ask, so download and say so. A download that is
    declined or fails is a tunnel error (exit 6) with the way to install it by hand."""
    from whatsable_cli.render.console import print_note
    from whatsable_cli.tunnel.agent import default_config_path, ensure_agent, find_authtoken

    if find_authtoken(default_config_path()) is None:
        return  # the tunnel fails on the missing authtoken first: no download for nothing
    if interactive is None:
        interactive = sys.stdin.isatty() and sys.stderr.isatty()

    def ask(path: Path) -> bool:
        if yes or not interactive:
            why = "--yes" if yes else "not a terminal, so not asked; --no-tunnel avoids it"
            print_note(f"the ngrok agent is not installed: downloading it from ngrok.com to {path} ({why})")
            return True
        question = f"The ngrok agent is not installed. Download it from ngrok.com to {path}?"
        return (confirm or _ask_on_terminal)(question)

    def download(path: Path) -> None:
        (install or _pyngrok_install)(path)
        print_note(f"ngrok agent installed at {path}")

    ensure_agent(ngrok_path, ask=ask, install=download)
