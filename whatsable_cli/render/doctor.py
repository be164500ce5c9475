"""Renders `whatsable doctor`: one line per check with its status, and the fix under anything not OK."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from whatsable_cli.doctor.checks import FAIL, OK, WARN, Check
from whatsable_cli.render.console import print_json, stdout_console
from whatsable_cli.render.text import plural

_MARKS = {OK: "[green]✓ ok  [/]", WARN: "[yellow]! warn[/]", FAIL: "[bold red]✗ fail[/]"}


def render_doctor(checks: list[Check], exit_code: int, *, json_output: bool) -> None:
    if json_output:
        print_json(
            {
                "ok": exit_code == 0,
                "exit_code": exit_code,
                "checks": [
                    {"name": c.name, "status": c.status, "detail": c.detail, "fix": c.fix, "tunnel": c.tunnel}
                    for c in checks
                ],
            }
        )
        return
    console = stdout_console()
    if console.is_terminal:
        console.print(_grid(checks))
    else:  # piped: plain lines, no wrapping or padding
        width = max(len(c.name) for c in checks)
        for check in checks:
            console.print(f"{_MARKS[check.status]}  {check.name:<{width}}  {escape(check.detail)}", soft_wrap=True)
            if check.fix and check.status != OK:
                console.print(f"{'':<8}{'':<{width}}  fix: {escape(check.fix)}", soft_wrap=True)
    failed = sum(c.status == FAIL for c in checks)
    verdict = "[green]all checks passed[/]" if failed == 0 else f"[bold red]{plural(failed, 'check')} failed[/]"
    console.print(f"{verdict} (exit {exit_code})")


def _grid(checks: list[Check]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")  # a long path wraps rather than ending in "…"
    for check in checks:
        text = escape(check.detail)
        if check.fix and check.status != OK:
            text += f"\n[dim]fix:[/] {escape(check.fix)}"
        grid.add_row(_MARKS[check.status], check.name, text)
    return grid
