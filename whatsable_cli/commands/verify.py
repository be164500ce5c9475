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
    body_file: Annotated[str | None, typer.Argument(help="File with the exact raw body, or - for stdin.")] = None,
    header: HeaderOption = None,
    record: Annotated[
        Path | None, typer.Option("--record", help="Verify a recorded request from this recording.")
    ] = None,
    request_id: Annotated[
        str | None, typer.Option("--id", help="Id (or unique prefix) of the recorded request.")
    ] = None,
    secret: SecretOption = None,
    scheme: AutoSchemeOption = None,
    tolerance: Annotated[int, typer.Option(min=0, help="Allowed timestamp skew in seconds.")] = 300,
    at: Annotated[
        float | None, typer.Option("--at", help="Verify as if now were this Unix time (old payloads).")
    ] = None,
    config_path: ConfigOption = None,
    show_secrets: ShowSecretsOption = False,
    json_output: JsonOption = False,
) -> None:
    """Check a signature offline: exit 0 when valid, 3 when not, with what went wrong and why."""
    import time

    from whatsable_cli.config import load_config
    from whatsable_cli.recording.jsonl import find_request
    from whatsable_cli.render.events import warn_skipped_line
    from whatsable_cli.render.verify import render_verification
    from whatsable_cli.webhooks.signing import check_secret, detect_scheme
    from whatsable_cli.webhooks.signing import verify as verify_signature

    config = load_config(config_path)
    headers = parse_headers(header)
    if record is not None or request_id is not None:
        if record is None or request_id is None:
            raise BadInputError(
                "--record and --id go together", hint="e.g. --record rec.jsonl --id 3f2a", code="record_without_id"
            )
        recorded = find_request(record, request_id, on_skip=warn_skipped_line)
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
    wanted = config.pick(scheme, "scheme", "auto")
    chosen = (detect_scheme(header_map) if wanted == "auto" else wanted) or "whatsable"
    check_secret(chosen, str(secret_value))  # an unusable secret is exit 7, whatever the headers say
    result = verify_signature(
        chosen,
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
