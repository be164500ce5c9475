"""`whatsable send-test URL`: send signed synthetic events to an endpoint and judge its answers (for CI)."""

from pathlib import Path
from typing import Annotated

import typer

from whatsable_cli.commands.options import (
    ConfigOption,
    HeaderOption,
    JsonOption,
    SchemeOption,
    SecretOption,
    ShowSecretsOption,
    parse_headers,
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


def send_test(
    url: Annotated[str, typer.Argument(help="The endpoint to test, e.g. https://example.com/webhooks/whatsable.")],
    event: Annotated[
        str | None,
        typer.Option(help="message_status or incoming_message (default: one of each).", rich_help_panel=WHAT),
    ] = None,
    status: Annotated[
        str | None, typer.Option(help="message_status variant: sent, delivered, read, failed.", rich_help_panel=WHAT)
    ] = None,
    content_type: Annotated[
        str | None,
        typer.Option(
            help="incoming_message variant: text, image, audio, video, document, location.", rich_help_panel=WHAT
        ),
    ] = None,
    fixture: Annotated[
        list[str] | None,
        typer.Option(
            help="Send a bundled fixture (NAME) or a JSON file (PATH) as is (repeatable).", rich_help_panel=WHAT
        ),
    ] = None,
    all_variants: Annotated[
        bool, typer.Option("--all-variants", help="Every status and content type.", rich_help_panel=WHAT)
    ] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="Override a field: --set data.status=read (JSON literals parsed).", rich_help_panel=WHAT
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Reproducible ids and timestamps.", rich_help_panel=WHAT)] = None,
    repeat: Annotated[int, typer.Option(min=1, help="Send each event N times.", rich_help_panel=WHAT)] = 1,
    body_file: Annotated[
        str | None, typer.Option(help="Send this exact body (a file, or - for stdin).", rich_help_panel=WHAT)
    ] = None,
    secret: SecretOption = None,
    scheme: SchemeOption = None,
    header: HeaderOption = None,
    config_path: ConfigOption = None,
    timeout: Annotated[
        float,
        typer.Option(min=0.001, help="Seconds for the whole exchange (WhatsAble's limit).", rich_help_panel=CHECKS),
    ] = 10.0,
    expect: Annotated[str, typer.Option(help="2xx, or an exact status such as 200.", rich_help_panel=CHECKS)] = "2xx",
    max_latency: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Fail an answer slower than this many seconds (default: warn above 5).",
            rich_help_panel=CHECKS,
        ),
    ] = None,
    security_checks: Annotated[
        bool,
        typer.Option(
            " /--no-security-checks", help="Skip the forged-request checks.", show_default=False, rich_help_panel=CHECKS
        ),
    ] = True,
    semantics_checks: Annotated[
        bool,
        typer.Option(
            " /--no-semantics-checks",
            help="Skip the duplicate and ordering checks.",
            show_default=False,
            rich_help_panel=CHECKS,
        ),
    ] = True,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the exact requests; send nothing.", rich_help_panel=OUTPUT)
    ] = False,
    show_secrets: ShowSecretsOption = False,
    json_output: JsonOption = False,
    junit: Annotated[
        Path | None, typer.Option(help="Also write a JUnit XML report here (for CI).", rich_help_panel=OUTPUT)
    ] = None,
) -> None:
    """Send signed WhatsAble events to URL and check its answers: exit 0 pass, 4 failed, 5 unreachable."""
    from whatsable_cli.config import load_config
    from whatsable_cli.render.console import print_warning
    from whatsable_cli.render.send_test import ConsoleObserver, print_plan_notes, render_dry_run, render_report
    from whatsable_cli.send_test.plan import SendTestSettings
    from whatsable_cli.send_test.reports import check_junit_path, write_junit
    from whatsable_cli.send_test.service import planned_requests, prepare, run_send_test
    from whatsable_cli.send_test.verdicts import Criteria

    config = load_config(config_path)
    for warning in config.warnings:
        print_warning(warning)
    settings = SendTestSettings(
        url=url,
        event=event,
        status=status,
        content_type=content_type,
        fixtures=tuple(fixture or ()),
        all_variants=all_variants,
        body=None if body_file is None else read_body_source(body_file),
        body_label="stdin" if body_file == "-" else Path(body_file or "body-file").name,
        overrides=tuple(set_ or ()),
        seed=seed,
        repeat=repeat,
        secret=config.pick(secret, "secret"),
        scheme=str(config.pick(scheme, "scheme", "whatsable")),
        headers=tuple(parse_headers(header)),
        security_checks=security_checks,
        semantics_checks=semantics_checks,
    )
    criteria = Criteria(parse_expect(expect), max_latency, timeout_s=timeout)
    if dry_run:
        plan = prepare(settings)
        print_plan_notes(plan.notes)
        render_dry_run(planned_requests(plan), show_secrets=show_secrets, json_output=json_output)
        return
    if junit is not None:
        check_junit_path(junit)
    try:
        with ConsoleObserver() as observer:
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
