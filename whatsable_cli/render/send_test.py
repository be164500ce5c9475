"""Renders send-test: progress on a TTY, the results table and summary, the JSON report, dry-run requests."""

from __future__ import annotations

import os
import sys
from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from whatsable_cli.errors import ExitCode
from whatsable_cli.render.console import print_json, print_note, print_warning, stderr_console, stdout_console
from whatsable_cli.render.text import first_line, plural
from whatsable_cli.send_test.reports import report_to_dict, request_to_dict
from whatsable_cli.send_test.sender import OutboundRequest
from whatsable_cli.send_test.verdicts import Check, Outcome, Report, Verdict
from whatsable_cli.webhooks.events import EVENT_TYPES
from whatsable_cli.webhooks.redaction import has_signature, shown_headers

UNSIGNED_NOTE = "security checks skipped: no secret"  # send_test_checks' note when nothing is signed
VERDICT_MARKS = {
    Verdict.PASS: "[green]✓ pass[/]",
    Verdict.WARN: "[yellow]! warn[/]",
    Verdict.FAIL: "[bold red]✗ FAIL[/]",
    Verdict.UNREACHABLE: "[bold red]✗ no answer[/]",
    Verdict.SKIPPED: "[dim]- skipped[/]",
}


def print_plan_notes(notes: list[str], console: Console | None = None, *, unsigned_ok: bool = False) -> None:
    """What will not be checked. Only a missing secret is a warning (the user can fix it), unless unsigned was
    asked for (--allow-unsigned); what a scheme cannot check, or a check turned off, is a note: a warning on
    every default CI run teaches people to ignore them."""
    for note in notes:
        if note.startswith(UNSIGNED_NOTE) and not unsigned_ok:
            print_warning(note, console)
        else:
            print_note(f"note: {note}", console)


class ConsoleObserver:
    """Prints what was not checked (stderr) and, on a TTY, a progress bar for multi-request runs."""

    def __init__(self, *, unsigned_ok: bool = False) -> None:
        self._console = stderr_console()
        self._unsigned_ok = unsigned_ok
        self._progress: Progress | None = None
        self._task = TaskID(0)

    def __enter__(self) -> ConsoleObserver:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def started(self, total: int, notes: list[str]) -> None:
        print_plan_notes(notes, self._console, unsigned_ok=self._unsigned_ok)
        if total > 1 and self._console.is_terminal:
            self._progress = Progress(
                TextColumn("sending"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=self._console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("", total=total)

    def checked(self, outcome: Outcome) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=1, description=escape(outcome.check.title))


def _time(outcome: Outcome) -> str:
    exchange = outcome.exchange
    if exchange is None:
        return "—"
    total = f"{exchange.total_ms:.0f} ms" if exchange.total_ms < 1000 else f"{exchange.total_ms / 1000:.2f} s"
    return total if exchange.connect_ms is None else f"{total}\n[dim]connect {exchange.connect_ms:.0f} ms[/]"


def _status(outcome: Outcome) -> str:
    exchange = outcome.exchange
    if exchange is None:
        return "—"
    return str(exchange.status) if exchange.status is not None else (exchange.error_code or "error")


def _answer(outcome: Outcome) -> str:
    """The first line of the endpoint's answer when it was not 2xx: what the app itself said went wrong."""
    exchange = outcome.exchange
    if exchange is None or exchange.status is None or 200 <= exchange.status < 300 or not exchange.snippet:
        return ""
    return first_line(exchange.snippet)


def _short_request(label: str) -> str:
    """`message_status/delivered` -> `delivered`: variant names are unique across both events."""
    event, sep, variant = label.partition("/")
    return variant if sep and event in EVENT_TYPES else label


# Below this width (a CI log is 80 columns) a hint column would wrap a word per line: the hints go under the table.
WIDE_TABLE_COLUMNS = 120


def render_report(report: Report, *, json_output: bool, console: Console | None = None) -> None:
    if json_output:
        print_json(report_to_dict(report))
        return
    console = console or stdout_console()
    wide = console.width >= WIDE_TABLE_COLUMNS
    console.print(_results_table(report, with_hints=wide))
    if not wide:
        for line in _detail_lines(report.outcomes):
            console.print(line, soft_wrap=True)  # one long line each: a CI log viewer wraps it, grep finds it
    colour = "green" if report.exit_code is ExitCode.OK else "bold red"
    console.print(f"[{colour}]{escape(report.summary)}[/]", soft_wrap=True)


def _results_table(report: Report, *, with_hints: bool) -> Table:
    table = Table(title=f"send-test {escape(report.url)}", title_justify="left", show_lines=False)
    table.add_column("check", max_width=24)
    table.add_column("request", max_width=20, overflow="fold")
    for column in ("status", "time", "verdict"):
        table.add_column(column, no_wrap=True)
    if with_hints:
        table.add_column("hint", ratio=1)  # only the hint wraps freely
    outcomes = report.outcomes
    for index, outcome in enumerate(outcomes):
        cells = [
            escape(outcome.check.name),
            escape(_short_request(outcome.check.request)),
            _status(outcome),
            _time(outcome) if with_hints else _time(outcome).split("\n")[0],
            VERDICT_MARKS[outcome.verdict],
        ]
        if with_hints:
            answer = _answer(outcome)
            cell = escape(outcome.message) + (f"\n[yellow]answered: {escape(answer)}[/]" if answer else "")
            cells.append(cell + (f"\n[dim]{escape(outcome.hint)}[/]" if outcome.hint else ""))
        last_of_group = index + 1 == len(outcomes) or outcomes[index + 1].check.group != outcome.check.group
        # a rule between groups: deliveries, forgeries, duplicates, ordering
        table.add_row(*cells, end_section=last_of_group)
    return table


def _detail_lines(outcomes: list[Outcome]) -> list[str]:
    """What the narrow table leaves out: the message and hint of every check that did not simply pass."""
    lines = []
    skipped: dict[str, list[str]] = {}  # checks skipped for one reason share one line
    for outcome in outcomes:
        if outcome.verdict is Verdict.SKIPPED and not outcome.hint:
            skipped.setdefault(outcome.message, []).append(outcome.check.group)
            continue
        if outcome.verdict is Verdict.PASS and not outcome.hint:
            continue
        name = f"{outcome.check.name} [{_short_request(outcome.check.request)}]"
        lines.append(f"{VERDICT_MARKS[outcome.verdict]} {escape(name)}: {escape(outcome.message)}")
        answer = _answer(outcome)
        if answer:
            lines.append(f"    [yellow]answered:[/] {escape(answer)}")
        if outcome.hint:
            lines.append(f"    [dim]hint:[/] {escape(outcome.hint)}")
    for message, groups in skipped.items():  # the table above names them
        kinds = " and ".join(dict.fromkeys(groups))
        lines.append(f"{VERDICT_MARKS[Verdict.SKIPPED]} {plural(len(groups), kinds + ' check')}: {escape(message)}")
    return lines


def render_dry_run(requests: list[tuple[Check, OutboundRequest]], *, show_secrets: bool, json_output: bool) -> None:
    if json_output:
        print_json(
            {
                "dry_run": True,
                "requests": [
                    {"group": c.group, "check": c.name, "request": c.request, "expect": c.expect.value}
                    | request_to_dict(r, show_secrets=show_secrets)
                    for c, r in requests
                ],
            }
        )
        return
    try:
        _write_requests(requests, show_secrets=show_secrets)
    except BrokenPipeError:  # `--dry-run | head`: the reader has seen enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    if not show_secrets and any(has_signature(r.headers) for _, r in requests):
        stderr_console().print("[dim]signature values are redacted; pass --show-secrets to print them in full[/]")


def _write_requests(requests: list[tuple[Check, OutboundRequest]], *, show_secrets: bool) -> None:
    out = sys.stdout
    for number, (check, request) in enumerate(requests, 1):
        out.write(f"### {number}/{len(requests)} {check.title} [{check.request}] (expect: {check.expect.value})\n")
        out.write(f"{request.method} {request.url}\n")
        for name, value in shown_headers(request.headers, show_secrets=show_secrets):
            out.write(f"{name}: {value}\n")
        out.write("\n")
        out.write(request.body.decode("utf-8", errors="replace") + "\n\n")
    out.flush()
