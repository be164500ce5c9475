"""Renders the bundled fixture list and a single fixture, with where each comes from."""

from __future__ import annotations

import json
import sys

from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table

from whatsable_cli.render.console import print_json, stderr_console, stdout_console
from whatsable_cli.webhooks.events import parse_body
from whatsable_cli.webhooks.fixtures import Fixture
from whatsable_cli.webhooks.summary import shorten, summarize


def _summary(fixture: Fixture) -> str:
    return shorten(summarize(parse_body(fixture.read_bytes())), 70)


def _origin(fixture: Fixture) -> str:
    """`documented`, or `adapted: 3 guesses`: what a row says of its source (--json and `show` say more)."""
    source = fixture.source
    if source is None:
        return "unknown"
    if source.origin == "documented":
        return "documented"
    return f"adapted: {len(source.assumptions)} guess{'es' if len(source.assumptions) != 1 else ''}"


def render_fixture_list(fixtures: list[Fixture], *, json_output: bool) -> None:
    if json_output:
        for fixture in fixtures:
            print_json({**fixture.metadata(), "summary": _summary(fixture)})
        return
    table = Table(title="Bundled fixtures", title_justify="left")
    # The name is what `fixtures show`, `send-test --fixture` and `replay` take: it is never cut. It already
    # says the family, the event and the variant, so on a narrow terminal the summary gives way, cut to fit.
    name_width = max((len(fixture.name) for fixture in fixtures), default=4)
    source_width = len("adapted: 3 guesses")
    console = stdout_console()
    room = max(10, console.width - name_width - source_width - 10)  # 10: the borders and padding of 3 columns
    table.add_column("name", no_wrap=True, min_width=name_width)
    table.add_column("source", no_wrap=True, min_width=source_width)
    table.add_column("summary", no_wrap=True)
    for fixture in fixtures:
        table.add_row(fixture.name, _origin(fixture), shorten(_summary(fixture), room))
    console.print(table)
    stderr_console().print(
        "`whatsable fixtures show NAME --json`: a fixture's source page, commit and assumptions", style="dim"
    )


def render_fixture(fixture: Fixture, *, json_output: bool) -> None:
    body = fixture.read_bytes()
    if json_output:
        print_json({**fixture.metadata(), "summary": _summary(fixture), "payload": json.loads(body)})
        return
    if not sys.stdout.isatty():
        # Byte-exact on pipes, so `fixtures show X > x.json` gives the bundled file.
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
        return
    console = stdout_console()
    source = fixture.source
    if source is not None:
        console.print(f"[bold]{escape(fixture.name)}[/] ({fixture.format.value}): {source.origin}")
        console.print(f"  source  {escape(source.page.url)} — {escape(source.example)}")
        console.print(f"          {escape(source.page.path)} @ {source.page.commit[:12]}")
        for assumption in source.assumptions:
            console.print(f"  assumes {escape(assumption)}", style="yellow")
        for note in source.notes:
            console.print(f"  note    {escape(note)}", style="dim")
    console.print(Syntax(json.dumps(json.loads(body), indent=2, ensure_ascii=False), "json"))
