"""`whatsable replay SOURCE... --to URL`: re-send recorded or fixture payloads, byte for byte or re-signed."""

import sys
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
from whatsable_cli.commands.options import ConfigOption, JsonOption, SchemeOption, SecretOption, ShowSecretsOption


def replay(
    to: Annotated[str, typer.Option("--to", help="The URL to send to (required).", show_default=False)],
    sources: Annotated[
        list[str] | None,
        typer.Argument(
            help="Recordings, fixture names, JSON payload files, folders of them, or - for stdin "
            "(default: the newest recording).",
            show_default=False,
        ),
    ] = None,
    record: RecordOption = None,
    request_ids: Annotated[
        list[str] | None, typer.Option("--id", help="Only this recorded request (id or unique prefix; repeatable).")
    ] = None,
    event: EventFilterOption = None,
    status: StatusFilterOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    where: WhereOption = None,
    last: LastOption = None,
    sets: Annotated[
        list[str] | None, typer.Option("--set", help="Edit the JSON body: --set data.status=read (repeatable).")
    ] = None,
    secret: SecretOption = None,
    scheme: SchemeOption = None,
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", help="Requests in flight (1 keeps order).")] = 1,
    rate: Annotated[str | None, typer.Option("--rate", help="At most this many requests: 50/s, 600/m.")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for each answer.")] = 10.0,
    expect: Annotated[str, typer.Option("--expect", help="Answers that pass: 2xx, 200, 200,202, 2xx,409.")] = "2xx",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be sent; send nothing.")] = False,
    stop_on_failure: Annotated[bool, typer.Option("--stop-on-failure", help="Stop at the first failure.")] = False,
    strict: StrictOption = False,
    config_path: ConfigOption = None,
    show_secrets: ShowSecretsOption = False,
    json_output: JsonOption = False,
) -> None:
    """Re-send requests to URL: exit 0 all passed, 4 an answer failed --expect, 5 unreachable, 7 bad input."""
    from whatsable_cli.config import load_config
    from whatsable_cli.paths import recording_to_read
    from whatsable_cli.recording.query import build_filters
    from whatsable_cli.render.replay import ReplayPrinter, print_note
    from whatsable_cli.replay.request import SigningPlan
    from whatsable_cli.replay.service import ReplaySettings, exit_code
    from whatsable_cli.replay.service import replay as run_replay
    from whatsable_cli.replay.sources import iter_items, resolve_sources
    from whatsable_cli.replay.stats import StatusExpectation, parse_rate
    from whatsable_cli.replay.stdin_lines import StdinLines
    from whatsable_cli.webhooks.overrides import apply_overrides

    if sets:  # a malformed --set (no `=`, an empty key) is bad input before anything is read or sent
        apply_overrides({}, sets)
    config = load_config(config_path)
    specs = [*(sources or []), *([str(record)] if record else [])]
    if not specs:  # say which run is replayed: the newest recording may be a run that received nothing
        specs = [str(recording_to_read(None))]
        print_note(f"replaying the newest recording: {specs[0]}")
    resolved = resolve_sources(specs)
    secret_value = config.pick(secret, "secret")
    settings = ReplaySettings(
        url=to,
        signing=SigningPlan(
            str(secret_value) if secret_value else None, str(config.pick(scheme, "scheme", "whatsable"))
        ),
        sets=tuple(sets or ()),
        filters=build_filters(
            events=event, statuses=status, since=since, until=until, where=where, ids=request_ids, last=last
        ),
        concurrency=concurrency,
        rate=parse_rate(rate) if rate else None,
        timeout=timeout,
        expect=StatusExpectation(expect),
        dry_run=dry_run,
        stop_on_failure=stop_on_failure,
    )
    printer = ReplayPrinter(url=to, json_output=json_output, show_secrets=show_secrets)
    for warning in config.warnings:
        printer.on_warning(warning)
    live = any(source.kind == "stdin" for source in resolved)  # a pipe may wait for its next line
    with StdinLines(sys.stdin.buffer if live and sys.stdin is not None else None) as stdin, printer:
        items = iter_items(resolved, stdin=stdin, strict=strict, on_skip=printer.on_skipped_line)
        summary = run_replay(items, settings, printer, stop_reading=stdin.stop if live else None)
    printer.render_summary(summary)
    code = exit_code(summary)
    if code:
        raise typer.Exit(int(code))


def register(app: typer.Typer) -> None:
    app.command("replay")(replay)
