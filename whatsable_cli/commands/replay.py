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
from whatsable_cli.commands.options import (
    ConfigOption,
    JsonOption,
    SchemeOption,
    SecretOption,
    ShowSecretsOption,
    check_each,
    given_on_command_line,
    pick_secret,
    positive_seconds,
    resign_without_secret,
    sending_scheme,
)


def _check_to(value: str) -> None:
    from whatsable_cli.delivery.http_rules import check_http_url

    check_http_url(value, "--to", hint="e.g. --to http://localhost:3000/webhook")


def _check_set(value: str) -> None:
    from whatsable_cli.webhooks.overrides import apply_overrides

    apply_overrides({}, [value])


def _check_rate(value: str) -> None:
    from whatsable_cli.replay.stats import parse_rate

    parse_rate(value)


def _check_expect(value: str) -> None:
    from whatsable_cli.replay.stats import StatusExpectation

    StatusExpectation(value)


def replay(
    ctx: typer.Context,
    to: Annotated[
        str,
        typer.Option(
            "--to",
            metavar="URL",
            help="The URL to send to (required).",
            show_default=False,
            callback=check_each(_check_to),
        ),
    ],
    sources: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="SOURCE",
            help="Recordings, fixture names, JSON payload files, folders of them, or - for stdin "
            "(default: the newest recording).",
            show_default=False,
        ),
    ] = None,
    record: RecordOption = None,
    request_ids: Annotated[
        list[str] | None,
        typer.Option("--id", metavar="ID", help="Only this recorded request (id or unique prefix; repeatable)."),
    ] = None,
    event: EventFilterOption = None,
    status: StatusFilterOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    where: WhereOption = None,
    last: LastOption = None,
    sets: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="PATH=VALUE",
            help="Edit the JSON body: --set data.status=read (repeatable).",
            callback=check_each(_check_set),
        ),
    ] = None,
    secret: SecretOption = None,
    resign: Annotated[
        bool,
        typer.Option(
            "--resign",
            help="Re-sign every request with the secret (--secret, WHATSABLE_SECRET or the config file) and "
            "--scheme, replacing the recorded signatures. Implied by --secret on the command line.",
        ),
    ] = False,
    scheme: SchemeOption = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, metavar="N", help="Requests in flight (1 keeps order).")
    ] = 1,
    rate: Annotated[
        str | None,
        typer.Option(
            "--rate", metavar="N/s", help="At most this many requests: 50/s, 600/m.", callback=check_each(_check_rate)
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout", callback=positive_seconds, metavar="SECONDS", help="How long to wait for each answer."
        ),
    ] = 10.0,
    expect: Annotated[
        str,
        typer.Option(
            "--expect",
            metavar="STATUSES",
            help="Answers that pass: 2xx, 200, 200,202, 2xx,409.",
            callback=check_each(_check_expect),
        ),
    ] = "2xx",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be sent; send nothing.")] = False,
    stop_on_failure: Annotated[bool, typer.Option("--stop-on-failure", help="Stop at the first failure.")] = False,
    strict: StrictOption = False,
    config_path: ConfigOption = None,
    show_secrets: ShowSecretsOption = False,
    json_output: JsonOption = False,
) -> None:
    """Re-send requests to URL: exit 0 all passed, 4 an answer failed --expect, 5 unreachable, 7 bad input."""
    from whatsable_cli.config import load_config
    from whatsable_cli.recording.query import build_filters
    from whatsable_cli.render.replay import ReplayPrinter, print_note
    from whatsable_cli.replay.request import SigningPlan
    from whatsable_cli.replay.service import ReplaySettings, exit_code
    from whatsable_cli.replay.service import replay as run_replay
    from whatsable_cli.replay.sources import history_source, iter_items, resolve_sources
    from whatsable_cli.replay.stats import StatusExpectation, parse_rate
    from whatsable_cli.replay.stdin_lines import StdinLines

    config = load_config(config_path)
    specs = [*(sources or []), *([str(record)] if record else [])]
    if specs:
        resolved = resolve_sources(specs)
    else:  # the history: --id finds requests in any run, else its latest run is replayed (and said so)
        source = history_source("history" if request_ids else "run:latest", request_ids or ())
        print_note("replaying from the history" if source.run is None else f"replaying run {source.run} of the history")
        resolved = [source]
    # Re-signing makes an unsigned or badly signed recording arrive valid: only when asked, never because
    # WHATSABLE_SECRET happens to be exported.
    chosen = pick_secret(ctx, secret, config)
    resigning = resign or given_on_command_line(ctx, "secret")
    if resigning and chosen.value is None:
        raise resign_without_secret(chosen)
    scheme_name = sending_scheme(config.pick(scheme, "scheme"))
    settings = ReplaySettings(
        url=to,
        signing=SigningPlan(chosen.value if resigning else None, scheme_name),
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
    printer = ReplayPrinter(
        url=to,
        json_output=json_output,
        show_secrets=show_secrets,
        resigning=f"the {scheme_name} scheme, secret from {chosen.source}" if resigning else None,
    )
    for warning in config.warnings:
        printer.on_warning(warning)
    live = any(source.kind == "stdin" for source in resolved)  # a pipe may wait for its next line
    if live and sys.stdin is not None and sys.stdin.isatty():  # otherwise it seems to hang
        print_note("reading requests from stdin, one JSON line each: Ctrl-D to end (or pipe them in)")
    with StdinLines(sys.stdin.buffer if live and sys.stdin is not None else None) as stdin, printer:
        items = iter_items(resolved, stdin=stdin, strict=strict, on_skip=printer.on_skipped_line)
        summary = run_replay(items, settings, printer, stop_reading=stdin.stop if live else None)
    printer.render_summary(summary)
    code = exit_code(summary)
    if code:
        raise typer.Exit(int(code))


def register(app: typer.Typer) -> None:
    app.command("replay")(replay)
