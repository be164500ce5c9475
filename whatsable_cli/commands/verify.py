"""`whatsable verify`: check a payload's signature offline and explain a mismatch."""

from pathlib import Path
from typing import Annotated

import typer

from whatsable_cli.commands.options import (
    AutoSchemeOption,
    ConfigOption,
    HeaderOption,
    JsonOption,
    SecretOption,
    ShowSecretsOption,
    parse_headers,
    read_body_source,
)
from whatsable_cli.errors import BadInputError, ExitCode


def verify(
    body_file: Annotated[
        str | None, typer.Argument(metavar="BODY", help="File with the exact raw body, or - for stdin.")
    ] = None,
    header: HeaderOption = None,
    record: Annotated[
        Path | None,
        typer.Option("--record", metavar="PATH", help="Take --id from this JSON Lines recording, not the history."),
    ] = None,
    request_id: Annotated[
        str | None,
        typer.Option("--id", metavar="ID", help="Id (or unique prefix) of a recorded request, from any run."),
    ] = None,
    secret: SecretOption = None,
    scheme: AutoSchemeOption = None,
    tolerance: Annotated[int, typer.Option(min=0, metavar="SECONDS", help="Allowed timestamp skew.")] = 300,
    at: Annotated[
        float | None,
        typer.Option("--at", metavar="UNIX_TIME", help="Verify as if now were this time (old payloads)."),
    ] = None,
    config_path: ConfigOption = None,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Try every signature construction whatsable knows on this request (fixed value; HMAC-SHA256/"
            "SHA-512/SHA-1 as hex, base64, base64url; Standard Webhooks; Svix) and say which one made it.",
        ),
    ] = False,
    show_secrets: ShowSecretsOption = False,
    json_output: JsonOption = False,
) -> None:
    """Check a signature offline: exit 0 when valid, 3 when not, with what went wrong and why."""
    import time

    from whatsable_cli.config import load_config
    from whatsable_cli.recording.jsonl import find_request
    from whatsable_cli.render.events import warn_skipped_line
    from whatsable_cli.render.verify import render_explanation, render_verification
    from whatsable_cli.webhooks.signing import check_secret
    from whatsable_cli.webhooks.signing import verify as verify_signature

    config = load_config(config_path)
    headers = parse_headers(header)
    if record is not None or request_id is not None:
        if request_id is None:
            raise BadInputError(
                "--record needs --id: which request?",
                hint="e.g. --record rec.jsonl --id 3f2a",
                code="record_without_id",
            )
        if record is not None:
            recorded = find_request(record, request_id, on_skip=warn_skipped_line)
        else:
            from whatsable_cli.recording.history import opened_history
            from whatsable_cli.recording.history_queries import find_in_history

            with opened_history() as history:
                recorded, _ = find_in_history(history, request_id)
        body, headers = recorded.body_bytes, [*recorded.headers, *headers]
    elif body_file is not None:
        body = read_body_source(body_file)
    else:
        raise BadInputError(
            "nothing to verify",
            hint="pass a body file (or - for stdin) with -H headers, or --record/--id",
            code="nothing_to_verify",
        )
    secret_value = config.pick(secret, "secret")
    if not secret_value:
        raise BadInputError("no secret to verify with", hint="pass --secret or set WHATSABLE_SECRET", code="no_secret")
    header_map = dict(headers)
    if explain:
        from whatsable_cli.webhooks.explain import explain_request

        explanation = explain_request(str(secret_value), body, header_map, tolerance=tolerance)
        render_explanation(explanation, body, json_output=json_output)
        if not explanation.matches:
            raise typer.Exit(int(ExitCode.SIGNATURE))
        return
    wanted = str(config.pick(scheme, "scheme", "auto"))
    check_secret(wanted, str(secret_value))  # an unusable secret is exit 7, whatever the headers say
    result = verify_signature(
        wanted,
        str(secret_value),
        body,
        header_map,
        clock=(lambda: at) if at is not None else time.time,
        tolerance=tolerance,
    )
    render_verification(
        result, body, headers, detected=wanted == "auto", show_secrets=show_secrets, json_output=json_output
    )
    if not result.ok:
        raise typer.Exit(int(ExitCode.SIGNATURE))


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)
