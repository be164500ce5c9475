"""`whatsable send-test URL`: send signed synthetic events to an endpoint and judge its answers (for CI)."""

from pathlib import Path
from typing import Annotated

import typer

from whatsable_cli.commands.choices import ContentType, EventType, PayloadFamily, Status, one_of
from whatsable_cli.commands.options import (
    ConfigOption,
    HeaderOption,
    JsonOption,
    SchemeOption,
    SecretOption,
    ShowSecretsOption,
    check_each,
    empty_secret_error,
    parse_headers,
    pick_secret,
    positive_seconds,
    read_body_source,
)
from whatsable_cli.errors import BadInputError, ExitCode

WHAT = "What to send"
CHECKS = "Checks"
OUTPUT = "Output"


def parse_expect(value: str) -> int | None:
    """`2xx` (any success) or one exact status code."""
    if value.lower() == "2xx":
        return None
    if value.isdigit() and 100 <= int(value) <= 599:
        return int(value)
    raise BadInputError(
        f"invalid --expect {value!r}", hint="use 2xx (the default) or one status code, e.g. 200", code="invalid_expect"
    )


def _check_url(value: str) -> None:
    from whatsable_cli.delivery.http_rules import check_http_url

    check_http_url(value, "URL", hint="e.g. https://example.com/webhook or http://127.0.0.1:8000/webhook")


def _check_set(value: str) -> None:
    from whatsable_cli.webhooks.overrides import apply_overrides

    apply_overrides({}, [value])  # the PATH=VALUE form; whether it fits the payload is checked once it is built


def send_test(
    ctx: typer.Context,
    url: Annotated[
        str,
        typer.Argument(
            metavar="URL",
            help="The endpoint to test, e.g. https://example.com/webhooks/whatsable.",
            callback=check_each(_check_url),
            show_default=False,
        ),
    ],
    event: Annotated[
        EventType | None,
        typer.Option(metavar="EVENT", help=f"Default: one of each. {one_of(EventType)}", rich_help_panel=WHAT),
    ] = None,
    status: Annotated[
        Status | None,
        typer.Option(metavar="STATUS", help=f"A message_status variant. {one_of(Status)}", rich_help_panel=WHAT),
    ] = None,
    content_type: Annotated[
        ContentType | None,
        typer.Option(metavar="TYPE", help=f"An incoming_message variant. {one_of(ContentType)}", rich_help_panel=WHAT),
    ] = None,
    fixture: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME|PATH",
            help="Send a bundled fixture or a JSON file as is (repeatable).",
            rich_help_panel=WHAT,
        ),
    ] = None,
    all_variants: Annotated[
        bool,
        typer.Option(
            "--all-variants",
            help="Every variant of the family: statuses and content types; flat: content types, ad_referral and "
            "outgoing messages (whatsapp_app, teammate, automation).",
            rich_help_panel=WHAT,
        ),
    ] = False,
    payload_format: Annotated[
        PayloadFamily | None,
        typer.Option(
            "--format",
            metavar="FAMILY",
            help="Payload family: envelope (the default; WhatsAble's webhooks guide: {event, data}) or flat (its "
            "message webhooks pages: top-level fields, outgoing_message events, ad_referral). Also picks --fixture "
            f"names. {one_of(PayloadFamily)}",
            case_sensitive=False,
            rich_help_panel=WHAT,
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="PATH=VALUE",
            help="Override a field: --set data.status=read (JSON literals parsed).",
            rich_help_panel=WHAT,
            callback=check_each(_check_set),
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(metavar="N", help="Reproducible ids and timestamps.", rich_help_panel=WHAT)
    ] = None,
    repeat: Annotated[int, typer.Option(min=1, metavar="N", help="Send each event N times.", rich_help_panel=WHAT)] = 1,
    body_file: Annotated[
        str | None,
        typer.Option(metavar="PATH", help="Send this exact body (a file, or - for stdin).", rich_help_panel=WHAT),
    ] = None,
    scenario: Annotated[
        str | None,
        typer.Option(
            metavar="NAME|FILE",
            help="Send a sequence of events with shared ids: a bundled scenario (`whatsable scenarios list`) "
            "or a TOML file.",
            rich_help_panel=WHAT,
        ),
    ] = None,
    secret: SecretOption = None,
    allow_unsigned: Annotated[
        bool,
        typer.Option(
            "--allow-unsigned",
            help="Send unsigned events on purpose when the secret given is empty (else exit 7).",
            rich_help_panel=CHECKS,
        ),
    ] = False,
    scheme: SchemeOption = None,
    header: HeaderOption = None,
    config_path: ConfigOption = None,
    timeout: Annotated[
        float,
        typer.Option(
            callback=positive_seconds,
            metavar="SECONDS",
            help="Time for the whole exchange (WhatsAble's limit).",
            rich_help_panel=CHECKS,
        ),
    ] = 10.0,
    expect: Annotated[
        str,
        typer.Option(
            metavar="STATUS",
            help="2xx, or an exact status such as 200.",
            rich_help_panel=CHECKS,
            callback=check_each(parse_expect),
        ),
    ] = "2xx",
    max_latency: Annotated[
        float | None,
        typer.Option(
            min=0,
            metavar="SECONDS",
            help="Fail an answer slower than this (default: warn above 5).",
            rich_help_panel=CHECKS,
        ),
    ] = None,
    no_security_checks: Annotated[
        bool,
        typer.Option("--no-security-checks", help="Skip the forged-request checks.", rich_help_panel=CHECKS),
    ] = False,
    no_semantics_checks: Annotated[
        bool,
        typer.Option("--no-semantics-checks", help="Skip the duplicate and ordering checks.", rich_help_panel=CHECKS),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the exact requests; send nothing.", rich_help_panel=OUTPUT)
    ] = False,
    show_secrets: ShowSecretsOption = False,
    json_output: JsonOption = False,
    junit: Annotated[
        Path | None,
        typer.Option(metavar="PATH", help="Also write a JUnit XML report here (for CI).", rich_help_panel=OUTPUT),
    ] = None,
) -> None:
    """Send signed WhatsAble events to URL and check its answers: exit 0 pass, 4 failed, 5 unreachable."""
    from whatsable_cli.config import load_config
    from whatsable_cli.render.console import print_warning
    from whatsable_cli.render.send_test import ConsoleObserver, print_plan_notes, render_dry_run, render_report
    from whatsable_cli.send_test.plan import SendTestSettings
    from whatsable_cli.send_test.reports import check_junit_path, write_junit
    from whatsable_cli.send_test.scenarios import load_scenario
    from whatsable_cli.send_test.service import planned_requests, prepare, run_send_test
    from whatsable_cli.send_test.verdicts import Criteria
    from whatsable_cli.webhooks.events import PayloadFormat

    config = load_config(config_path)
    for warning in config.warnings:
        print_warning(warning)
    chosen = pick_secret(ctx, secret, config)
    if chosen.empty and not allow_unsigned:
        raise empty_secret_error(chosen)
    settings = SendTestSettings(
        url=url,
        event=event.value if event else None,
        status=status.value if status else None,
        content_type=content_type.value if content_type else None,
        fixtures=tuple(fixture or ()),
        all_variants=all_variants,
        body=None if body_file is None else read_body_source(body_file),
        body_label="stdin" if body_file == "-" else Path(body_file or "body-file").name,
        overrides=tuple(set_ or ()),
        seed=seed,
        repeat=repeat,
        secret=chosen.value,
        scheme=str(config.pick(scheme, "scheme", "whatsable")),
        headers=tuple(parse_headers(header)),
        security_checks=not no_security_checks,
        semantics_checks=not no_semantics_checks,
        scenario=None if scenario is None else load_scenario(scenario),
        payload_format=PayloadFormat(payload_format.value) if payload_format else PayloadFormat.ENVELOPE,
    )
    criteria = Criteria(parse_expect(expect), max_latency, timeout_s=timeout)
    if dry_run:
        plan = prepare(settings)
        print_plan_notes(plan.notes, unsigned_ok=allow_unsigned)
        render_dry_run(planned_requests(plan), show_secrets=show_secrets, json_output=json_output)
        return
    if junit is not None:
        check_junit_path(junit)
    try:
        with ConsoleObserver(unsigned_ok=allow_unsigned) as observer:
            report = run_send_test(settings, criteria, observer)
    except KeyboardInterrupt:  # say so: a silent exit 130 leaves a CI log wondering what happened
        print_warning(
            "interrupted (Ctrl-C): the checks did not finish; no report" + (" and no JUnit file" if junit else "")
        )
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    render_report(report, json_output=json_output)
    if junit is not None:
        write_junit(junit, report)
    raise typer.Exit(int(report.exit_code))


def register(app: typer.Typer) -> None:
    app.command("send-test")(send_test)
