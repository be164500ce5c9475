"""`whatsable events list|show|export|runs|import|prune`: the history of every `listen` run, or a JSON Lines file."""

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from whatsable_cli.commands.filter_options import (
    EventFilterOption,
    LastOption,
    SinceOption,
    StatusFilterOption,
    StrictOption,
    UntilOption,
    WhereOption,
)
from whatsable_cli.commands.options import JsonOption, ShowSecretsOption
from whatsable_cli.errors import BadInputError

if TYPE_CHECKING:
    from whatsable_cli.recording.lines import ForwardRecord

events_app = typer.Typer(help="The event history: what `whatsable listen` recorded, across runs.", no_args_is_help=True)

RecordOption = Annotated[
    Path | None,
    typer.Option("--record", metavar="PATH", help="Read this JSON Lines recording instead of the history."),
]
RunOption = Annotated[
    str | None, typer.Option("--run", metavar="RUN", help="Only this run: its number (`events runs`) or latest.")
]
DEFAULT_LIST = 50  # rows `events list` shows without --last or --all
DEFAULT_BACKLOG = 10  # rows --follow shows before it waits for new ones


class ExportFormat(StrEnum):
    curl = "curl"
    json = "json"
    body = "body"
    jsonl = "jsonl"


def _history_only(record: Path | None, **options: object) -> None:
    given = [name for name, value in options.items() if value]
    if record is not None and given:
        raise BadInputError(
            f"{', '.join(given)}: for the history, not a --record file",
            hint="drop --record, or load the file into the history with `whatsable events import FILE`",
            code="history_only",
        )


@events_app.command("list")
def list_command(
    record: RecordOption = None,
    run: RunOption = None,
    search: Annotated[
        str | None,
        typer.Option("--search", "-s", metavar="WORDS", help="Only bodies holding all these words (word* = a prefix)."),
    ] = None,
    event: EventFilterOption = None,
    status: StatusFilterOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    where: WhereOption = None,
    last: LastOption = None,
    show_all: Annotated[bool, typer.Option("--all", help=f"Every match, not only the newest {DEFAULT_LIST}.")] = False,
    follow: Annotated[
        bool, typer.Option("--follow", "-F", help="Keep going: show new events as `listen` records them.")
    ] = False,
    strict: StrictOption = False,
    json_output: JsonOption = False,
) -> None:
    """List recorded requests, newest first: id, time, event, signature, forward results and the key field."""
    from contextlib import suppress
    from dataclasses import replace

    from whatsable_cli.recording.query import build_filters
    from whatsable_cli.render.events import render_event_rows

    filters = build_filters(events=event, statuses=status, since=since, until=until, where=where, last=last)
    _history_only(record, **{"--run": run, "--search": search, "--follow": follow, "--all": show_all})
    if record is not None:  # a JSON Lines file: in its own order, streamed
        from whatsable_cli.recording.jsonl import iter_entries
        from whatsable_cli.recording.query import event_rows
        from whatsable_cli.render.events import warn_skipped_line

        entries = iter_entries(record, strict=strict, on_skip=warn_skipped_line)
        render_event_rows(event_rows(entries, filters), json_output=json_output)
        return
    from whatsable_cli.recording.history import opened_history
    from whatsable_cli.recording.history_index import index_for_search
    from whatsable_cli.recording.history_queries import Selection, follow_rows, history_rows, resolve_run
    from whatsable_cli.render.events import note_empty_history, note_legacy_import, note_more

    with opened_history() as history:
        note_legacy_import(history.imported)
        if history.is_empty() and not follow:
            note_empty_history(history.path)
            return
        if search is not None:
            index_for_search(history)
        run_id = resolve_run(history, run) if run else None
        selection = Selection(replace(filters, last=None), run=run_id, search=search)
        if follow:
            backlog = DEFAULT_BACKLOG if last is None else last
            with suppress(KeyboardInterrupt):  # Ctrl-C is how a tail ends
                render_event_rows(follow_rows(history, selection, backlog=backlog), json_output=json_output, live=True)
            return
        page = history_rows(history, selection, limit=None if show_all else (last or DEFAULT_LIST))
        render_event_rows(page, json_output=json_output)
        if page.more and last is None:
            note_more(page.count)


@events_app.command("show")
def show_command(
    request_id: Annotated[
        str, typer.Argument(metavar="ID", help="The request id (from any run); a unique prefix is enough.")
    ],
    record: RecordOption = None,
    show_secrets: ShowSecretsOption = False,
    json_output: JsonOption = False,
) -> None:
    """Show one request in full: headers, pretty body, decoded last_messages, forward results, replays."""
    from whatsable_cli.render.events import render_event_detail, warn_skipped_line

    if record is not None:
        from whatsable_cli.recording.jsonl import find_request, iter_entries
        from whatsable_cli.recording.query import forwards_of

        request = find_request(record, request_id, on_skip=warn_skipped_line)
        forwards = list(forwards_of(iter_entries(record), request.id))
        render_event_detail(request, forwards, show_secrets=show_secrets, json_output=json_output)
        return
    from whatsable_cli.recording.history import opened_history
    from whatsable_cli.recording.history_queries import find_in_history, forwards_of_request
    from whatsable_cli.recording.history_replays import replays_of

    with opened_history() as history:
        found, run = find_in_history(history, request_id)
        forwards = forwards_of_request(history, found.id)
        replays = replays_of(history.conn, found.id)
    render_event_detail(found, forwards, show_secrets=show_secrets, json_output=json_output, run=run, replays=replays)


@events_app.command("export")
def export_command(
    request_id: Annotated[
        str | None,
        typer.Argument(metavar="ID", help="The request id (a unique prefix); --format jsonl without one: all of them."),
    ] = None,
    export_format: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="curl (a command that re-sends it), json, body, or jsonl (recording).",
        ),
    ] = ExportFormat.curl,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="URL",
            help="Target URL of the curl command (default: http://localhost:3000 + recorded path).",
        ),
    ] = None,
    run: RunOption = None,
    record: RecordOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="The same as --format json.")] = False,
) -> None:
    """Export a request exactly (a curl command, JSON, the raw body), or the history as a JSON Lines recording."""
    from whatsable_cli.delivery.http_rules import check_http_url
    from whatsable_cli.recording.export import curl_command, default_target, request_json
    from whatsable_cli.render.console import print_json
    from whatsable_cli.render.events import warn_skipped_line, write_body, write_lines, write_text

    if to is not None:
        check_http_url(to, "--to", hint="e.g. --to http://localhost:3000/webhook")
    _history_only(record, **{"--run": run})
    jsonl = export_format is ExportFormat.jsonl and not json_output
    if request_id is None and not jsonl:
        raise BadInputError(
            "which request? --format curl, json and body export one",
            hint="pass its id (`whatsable events list`), or --format jsonl for the whole history",
            code="id_required",
        )
    if record is not None:
        from whatsable_cli.recording.jsonl import find_request

        assert request_id is not None
        request = find_request(record, request_id, on_skip=warn_skipped_line)
        forwards: list[ForwardRecord] = []
    else:
        from whatsable_cli.recording.history import opened_history
        from whatsable_cli.recording.history_queries import (
            Selection,
            export_lines,
            find_in_history,
            forwards_of_request,
            resolve_run,
        )

        with opened_history() as history:
            if request_id is None:  # the whole history (or one run), streamed
                selection = Selection(run=resolve_run(history, run) if run else None)
                write_lines(export_lines(history, selection))
                return
            request, _ = find_in_history(history, request_id)
            forwards = forwards_of_request(history, request.id) if jsonl else []
    if jsonl:
        write_lines([request.to_json_line(), *(forward.to_json_line() for forward in forwards)])
    elif export_format is ExportFormat.body and not json_output:
        write_body(request.body_bytes)
    elif json_output or export_format is ExportFormat.json:
        print_json(request_json(request))
    else:
        write_text(curl_command(request, to or default_target(request)))


@events_app.command("runs")
def runs_command(
    last: Annotated[int | None, typer.Option("--last", min=1, metavar="N", help="Only the newest N runs.")] = None,
    json_output: JsonOption = False,
) -> None:
    """List the runs in the history, newest first: start, duration, port, events, forwards, errors."""
    from whatsable_cli.recording.history import opened_history
    from whatsable_cli.recording.history_queries import list_runs
    from whatsable_cli.render.events import note_legacy_import, render_runs

    with opened_history() as history:
        note_legacy_import(history.imported)
        runs = list_runs(history, last=last)
    render_runs(runs, json_output=json_output)


@events_app.command("import")
def import_command(
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE", help="JSON Lines recordings (`listen --record`, `events export`).")
    ],
    strict: StrictOption = False,
    json_output: JsonOption = False,
) -> None:
    """Load recordings into the history; a request it holds already is skipped (importing twice adds nothing)."""
    from whatsable_cli.recording.history import opened_history
    from whatsable_cli.recording.history_import import import_recording
    from whatsable_cli.render.events import render_imported, warn_skipped_line

    with opened_history() as history:
        for path in files:
            if path.is_dir():
                raise BadInputError(f"{path} is a folder", hint="pass the .jsonl files in it", code="not_a_file")
            result = import_recording(history, path, strict=strict, on_skip=warn_skipped_line)
            render_imported([result], json_output=json_output)


@events_app.command("prune")
def prune_command(
    older_than: Annotated[
        str | None,
        typer.Option("--older-than", metavar="AGE", help="Remove events received longer ago than this: 30d, 12h, 2w."),
    ] = None,
    keep: Annotated[
        int | None, typer.Option("--keep", min=0, metavar="N", help="Keep only the newest N events.")
    ] = None,
    max_size: Annotated[
        str | None,
        typer.Option("--max-size", metavar="SIZE", help="Remove the oldest events until the history is under: 500MiB."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Remove the oldest events (with their forward results) from the history; emptied runs go too."""
    from whatsable_cli.commands.listen_settings import parse_size
    from whatsable_cli.recording.history import opened_history
    from whatsable_cli.recording.history_retention import prune
    from whatsable_cli.recording.query import parse_time
    from whatsable_cli.render.events import render_pruned

    if older_than is None and keep is None and max_size is None:
        raise BadInputError(
            "prune what?", hint="e.g. --older-than 30d, --keep 10000 or --max-size 500MiB", code="nothing_to_prune"
        )
    cutoff = parse_time(older_than) if older_than is not None else None
    try:
        size = parse_size(max_size) if max_size is not None else None
    except BadInputError:
        raise BadInputError(f"bad --max-size {max_size!r}", hint="e.g. --max-size 500MiB", code="bad_size") from None
    with opened_history() as history:
        result = prune(history, older_than=cutoff, keep=keep, max_size=size)
    render_pruned(result, json_output=json_output)


def register(app: typer.Typer) -> None:
    app.add_typer(events_app, name="events")
