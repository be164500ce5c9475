"""`whatsable events list|show|export`: inspect what `listen` recorded."""

from enum import StrEnum
from typing import Annotated

import typer

from whatsable_cli.commands.filter_options import (
    EventFilterOption,
    LastOption,
    RecordOption,
    SinceOption,
    StatusFilterOption,
    StrictOption,
    UntilOption,
    WhereOption,
)
from whatsable_cli.commands.options import JsonOption, ShowSecretsOption

events_app = typer.Typer(help="Inspect recorded requests (what `whatsable listen` recorded).", no_args_is_help=True)

IdArgument = Annotated[str, typer.Argument(help="The request id; a unique prefix is enough.")]


class ExportFormat(StrEnum):
    curl = "curl"
    json = "json"
    body = "body"


@events_app.command("list")
def list_command(
    record: RecordOption = None,
    event: EventFilterOption = None,
    status: StatusFilterOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    where: WhereOption = None,
    last: LastOption = None,
    strict: StrictOption = False,
    json_output: JsonOption = False,
) -> None:
    """List recorded requests: id, time, event, signature, forward results and the key field."""
    from whatsable_cli.paths import recording_to_read
    from whatsable_cli.recording.jsonl import iter_entries
    from whatsable_cli.recording.query import build_filters, event_rows
    from whatsable_cli.render.console import print_note
    from whatsable_cli.render.events import render_event_rows, warn_skipped_line

    filters = build_filters(events=event, statuses=status, since=since, until=until, where=where, last=last)
    path = recording_to_read(record)
    if record is None:  # say which run is shown: the newest recording may be a run that received nothing
        print_note(f"the newest recording: {path}")
    entries = iter_entries(path, strict=strict, on_skip=warn_skipped_line)
    render_event_rows(event_rows(entries, filters), json_output=json_output)


@events_app.command("show")
def show_command(
    request_id: IdArgument,
    record: RecordOption = None,
    show_secrets: ShowSecretsOption = False,
    json_output: JsonOption = False,
) -> None:
    """Show one request in full: headers, pretty body, decoded last_messages, forward results."""
    from whatsable_cli.paths import recording_to_read
    from whatsable_cli.recording.jsonl import find_request, iter_entries
    from whatsable_cli.recording.query import forwards_of
    from whatsable_cli.render.events import render_event_detail, warn_skipped_line

    path = recording_to_read(record)
    request = find_request(path, request_id, on_skip=warn_skipped_line)
    forwards = list(forwards_of(iter_entries(path), request.id))
    render_event_detail(request, forwards, show_secrets=show_secrets, json_output=json_output)


@events_app.command("export")
def export_command(
    request_id: IdArgument,
    export_format: Annotated[
        ExportFormat, typer.Option("--format", "-f", help="curl (a command that re-sends it), json, or body.")
    ] = ExportFormat.curl,
    to: Annotated[
        str | None,
        typer.Option("--to", help="Target URL of the curl command (default: http://localhost:3000 + recorded path)."),
    ] = None,
    record: RecordOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="The same as --format json.")] = False,
) -> None:
    """Export one request exactly: a curl command, the request as JSON, or the raw body bytes."""
    from whatsable_cli.delivery.http_rules import check_http_url
    from whatsable_cli.paths import recording_to_read
    from whatsable_cli.recording.export import curl_command, default_target, request_json
    from whatsable_cli.recording.jsonl import find_request
    from whatsable_cli.render.console import print_json
    from whatsable_cli.render.events import warn_skipped_line, write_body, write_text

    if to is not None:
        check_http_url(to, "--to", hint="e.g. --to http://localhost:3000/webhook")
    request = find_request(recording_to_read(record), request_id, on_skip=warn_skipped_line)
    if export_format is ExportFormat.body and not json_output:
        write_body(request.body_bytes)
    elif json_output or export_format is ExportFormat.json:
        print_json(request_json(request))
    else:
        write_text(curl_command(request, to or default_target(request)))


def register(app: typer.Typer) -> None:
    app.add_typer(events_app, name="events")
