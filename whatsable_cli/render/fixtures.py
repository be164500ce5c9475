"""Renders the bundled fixture list and a single fixture."""

from __future__ import annotations

import json
import sys

from rich.syntax import Syntax
from rich.table import Table

from whatsable_cli.render.console import print_json, stdout_console
from whatsable_cli.webhooks.events import parse_body
from whatsable_cli.webhooks.fixtures import Fixture


def _summary(fixture: Fixture) -> str:
    parsed = parse_body(fixture.read_bytes())
    if parsed.kind == "message_status":
        error = parsed.field("error")
        suffix = f" (error {error.get('code')})" if isinstance(error, dict) else ""
        return f"status={parsed.status}{suffix}"
    text = str(parsed.field("last_message_of_user") or "")
    return f"{parsed.field('message_type')}: {text[:40]}" + ("…" if len(text) > 40 else "")


def render_fixture_list(fixtures: list[Fixture], *, json_output: bool) -> None:
    if json_output:
        for fixture in fixtures:
            print_json(
                {
                    "name": fixture.name,
                    "event": fixture.event,
                    "variant": fixture.variant,
                    "path": str(fixture.path),
                    "summary": _summary(fixture),
                }
            )
        return
    table = Table(title="Bundled fixtures", title_justify="left")
    # The name is what `fixtures show`, `send-test --fixture` and `replay` take: it is never cut. It already
    # says the event and the variant, so on a narrow terminal only the summary gives way.
    name_width = max((len(fixture.name) for fixture in fixtures), default=4)
    table.add_column("name", no_wrap=True, min_width=name_width)
    table.add_column("summary")
    for fixture in fixtures:
        table.add_row(fixture.name, _summary(fixture))
    stdout_console().print(table)


def render_fixture(fixture: Fixture, *, json_output: bool) -> None:
    body = fixture.read_bytes()
    if json_output or not sys.stdout.isatty():
        # Byte-exact on pipes, so `fixtures show X > x.json` gives the bundled file.
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
        return
    stdout_console().print(Syntax(json.dumps(json.loads(body), indent=2, ensure_ascii=False), "json"))
