"""Shows `whatsable inspect`'s one message: where the page is (a line on stderr, or a JSON object on stdout)."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from whatsable_cli.render.console import print_json, stderr_console


def inspector_ready(url: str, history: Path, *, json_output: bool) -> None:
    if json_output:
        print_json({"type": "ready", "url": url, "history": str(history)})
        return
    console = stderr_console()
    console.print("[bold green]whatsable inspect[/] ready")
    console.print(f"  Inspector    [bold]{escape(url)}[/]  (open it in your browser)")
    console.print(f"  History      {escape(str(history))}")
    console.print("[dim]Ctrl-C to stop[/]")
