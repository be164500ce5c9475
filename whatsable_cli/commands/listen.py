"""`whatsable listen`: a local listener that records, verifies, shows and forwards live WhatsAble events."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from whatsable_cli.commands.options import ConfigOption, JsonOption, SecretOption
from whatsable_cli.config import DEFAULT_PORT
from whatsable_cli.errors import BadInputError


def listen(
    port: Annotated[
        int | None,
        typer.Option("--port", "-p", help=f"Port (default {DEFAULT_PORT}; 0 = a free one).", rich_help_panel="Serving"),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option("--host", help="Interface to listen on (default 127.0.0.1).", rich_help_panel="Serving"),
    ] = None,
    path: Annotated[
        str | None, typer.Option("--path", help="Webhook path (default /webhook).", rich_help_panel="Serving")
    ] = None,
    forward_to: Annotated[
        list[str] | None,
        typer.Option(
            "--forward-to", "-f", help="Forward every event to this URL (repeatable).", rich_help_panel="Forwarding"
        ),
    ] = None,
    route: Annotated[
        list[str] | None,
        typer.Option(
            "--route", help="EVENT=URL: forward this event type there (repeatable).", rich_help_panel="Forwarding"
        ),
    ] = None,
    respond: Annotated[
        str | None,
        typer.Option(
            "--respond",
            help="relay: answer with the first target's answer (default); 200: always 200.",
            rich_help_panel="Forwarding",
        ),
    ] = None,
    forward_timeout: Annotated[
        float,
        typer.Option("--forward-timeout", min=0.001, help="Seconds per forward.", rich_help_panel="Forwarding"),
    ] = 10.0,
    skip_verify: Annotated[
        bool,
        typer.Option(
            "--skip-verify",
            help="Accept a self-signed certificate on an https:// target.",
            rich_help_panel="Forwarding",
        ),
    ] = False,
    header: Annotated[
        list[str] | None,
        typer.Option(
            "-H",
            "--header",
            help="'Name: value' added to every forwarded request (repeatable).",
            rich_help_panel="Forwarding",
        ),
    ] = None,
    retry_backoff: Annotated[
        float,
        typer.Option(
            "--retry-backoff",
            min=0.001,
            help="First wait (s) before redelivering to a down target.",
            rich_help_panel="Forwarding",
        ),
    ] = 0.5,
    secret: SecretOption = None,
    scheme: Annotated[
        str | None,
        typer.Option(
            "--scheme",
            envvar="WHATSABLE_SCHEME",
            help="auto (from the headers), whatsable, standard, svix.",
            rich_help_panel="Signatures",
        ),
    ] = None,
    tolerance: Annotated[
        int, typer.Option(min=0, help="Allowed timestamp skew in seconds.", rich_help_panel="Signatures")
    ] = 300,
    require_signature: Annotated[
        bool,
        typer.Option(
            "--require-signature",
            help="Answer 401 to anything not verified (still recorded).",
            rich_help_panel="Signatures",
        ),
    ] = False,
    record: Annotated[
        Path | None,
        typer.Option("--record", help="Recording file (default: a new one per run).", rich_help_panel="Recording"),
    ] = None,
    no_record: Annotated[bool, typer.Option("--no-record", help="Do not record.", rich_help_panel="Recording")] = False,
    fsync: Annotated[
        bool,
        typer.Option("--fsync", help="fsync every line (survives power loss; slower).", rich_help_panel="Recording"),
    ] = False,
    event: Annotated[
        list[str] | None,
        typer.Option(
            "--event", "-e", help="Only show/forward this event type (repeatable).", rich_help_panel="Display"
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", help="pretty (default on a terminal), compact, json, quiet.", rich_help_panel="Display"
        ),
    ] = None,
    json_output: JsonOption = False,
    show_body: Annotated[
        bool, typer.Option("--show-body", help="Show the JSON body, chat and app answer.", rich_help_panel="Display")
    ] = False,
    max_body: Annotated[
        str, typer.Option("--max-body", help="Largest body kept (larger: 413).", rich_help_panel="Serving")
    ] = "1MiB",
    no_tunnel: Annotated[
        bool, typer.Option("--no-tunnel", help="Serve locally only, no ngrok tunnel.", rich_help_panel="Tunnel")
    ] = False,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url", help="A public URL you run yourself (shown in the banner).", rich_help_panel="Tunnel"
        ),
    ] = None,
    domain: Annotated[
        str | None,
        typer.Option(
            "--domain", help="Your static ngrok domain: the same public URL every run.", rich_help_panel="Tunnel"
        ),
    ] = None,
    basic_auth: Annotated[
        str | None,
        typer.Option(
            "--basic-auth", help="user:password in front of the public URL (ngrok policy).", rich_help_panel="Tunnel"
        ),
    ] = None,
    ngrok_path: Annotated[
        str | None,
        typer.Option(
            "--ngrok-path", help="The ngrok agent (default: PYNGROK_NGROK_PATH, then PATH).", rich_help_panel="Tunnel"
        ),
    ] = None,
    tunnel_timeout: Annotated[
        float,
        typer.Option("--tunnel-timeout", help="Seconds the ngrok agent gets to come up.", rich_help_panel="Tunnel"),
    ] = 20.0,
    config_path: ConfigOption = None,
) -> None:
    """Receive webhooks locally: record, verify, show and forward every event. Ctrl-C to stop."""
    from whatsable_cli.commands.listen_settings import ListenOptions, listen_settings, tunnel_settings
    from whatsable_cli.config import load_config
    from whatsable_cli.listen.service import run
    from whatsable_cli.render.console import print_warning, stderr_console, stdout_console
    from whatsable_cli.render.listen import OUTPUT_MODES, ListenRenderer

    mode = "json" if json_output else (output or ("pretty" if sys.stdout.isatty() else "compact"))
    if mode not in OUTPUT_MODES:
        raise BadInputError(
            f"unknown --output {mode!r}", hint=f"use one of: {', '.join(OUTPUT_MODES)}", code="bad_output_mode"
        )
    config = load_config(config_path)
    options = ListenOptions(
        port=port,
        host=host,
        path=path,
        forward_to=forward_to,
        route=route,
        respond=respond,
        forward_timeout=forward_timeout,
        skip_verify=skip_verify,
        header=header,
        retry_backoff=retry_backoff,
        secret=secret,
        scheme=scheme,
        tolerance=tolerance,
        require_signature=require_signature,
        record=record,
        no_record=no_record,
        fsync=fsync,
        event=event,
        max_body=max_body,
        no_tunnel=no_tunnel,
        public_url=public_url,
        domain=domain,
        basic_auth=basic_auth,
        ngrok_path=ngrok_path,
        tunnel_timeout=tunnel_timeout,
    )
    settings = listen_settings(config, options)
    ngrok = tunnel_settings(config, options, settings.path)
    for message in config.warnings:
        print_warning(message)
    renderer = ListenRenderer(mode, stdout_console(), stderr_console(), show_body=show_body)
    try:
        tunnel = None
        if ngrok is not None:
            from whatsable_cli.tunnel.ngrok import NgrokTunnel

            tunnel = NgrokTunnel(ngrok, notify=renderer.tunnel_notice)
        run(settings, renderer, tunnel=tunnel)
    finally:
        renderer.close()


def register(app: typer.Typer) -> None:
    app.command("listen")(listen)
