"""`whatsable listen`: a local listener that records, verifies, shows and forwards live WhatsAble events.

Its length is the option declarations (Typer's Annotated options, grouped into help panels); turning them into
settings is `listen_settings.py`'s job.
"""

import sys
from pathlib import Path
from typing import Annotated

import typer

from whatsable_cli.commands.choices import Display, EventKind, Respond, VerifyScheme, one_of, values
from whatsable_cli.commands.options import (
    ConfigOption,
    JsonOption,
    SecretOption,
    check_each,
    pick_secret,
    positive_seconds,
)
from whatsable_cli.config import DEFAULT_INSPECT_PORT, DEFAULT_PORT
from whatsable_cli.errors import ExitCode


# Checks of option values, run by click while it parses (a bad value exits 2); each imports what it needs only
# when its option is given, so `whatsable --help` stays fast.
def _check_forward_target(value: str) -> None:
    from whatsable_cli.commands.listen_settings import forward_target

    forward_target(value)


def _check_route(value: str) -> None:
    from whatsable_cli.commands.listen_settings import route_target

    route_target(value)


def _complete_route(incomplete: str) -> list[str]:
    return [f"{kind}=" for kind in values(EventKind) if f"{kind}=".startswith(incomplete)]


def _check_header(value: str) -> None:
    from whatsable_cli.commands.options import parse_headers

    parse_headers([value])


def _check_size(value: str) -> None:
    from whatsable_cli.commands.listen_settings import parse_size

    parse_size(value)


def _check_public_url(value: str) -> None:
    from whatsable_cli.commands.listen_settings import public_url

    public_url(value)


def _check_domain(value: str) -> None:
    from whatsable_cli.tunnel.settings import normalise_domain

    normalise_domain(value)


def _check_basic_auth(value: str) -> None:
    from whatsable_cli.tunnel.settings import basic_auth_policy

    basic_auth_policy(value)


def listen(
    ctx: typer.Context,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            "-p",
            min=0,
            max=65535,
            metavar="PORT",
            help=f"Port (default {DEFAULT_PORT}; 0 = a free one).",
            rich_help_panel="Serving",
        ),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(
            "--host", metavar="HOST", help="Interface to listen on (default 127.0.0.1).", rich_help_panel="Serving"
        ),
    ] = None,
    path: Annotated[
        str | None,
        typer.Option("--path", metavar="PATH", help="Webhook path (default /webhook).", rich_help_panel="Serving"),
    ] = None,
    forward_to: Annotated[
        list[str] | None,
        typer.Option(
            "--forward-to",
            "-f",
            metavar="URL",
            help="Forward every event to this URL; 3000 or localhost:3000/hook work too (repeatable).",
            rich_help_panel="Forwarding",
            callback=check_each(_check_forward_target),
        ),
    ] = None,
    route: Annotated[
        list[str] | None,
        typer.Option(
            "--route",
            metavar="EVENT=URL",
            help="Forward this event type there instead (repeatable).",
            rich_help_panel="Forwarding",
            callback=check_each(_check_route),
            autocompletion=_complete_route,
        ),
    ] = None,
    respond: Annotated[
        Respond | None,
        typer.Option(
            "--respond",
            metavar="MODE",
            help="relay: answer with the first target's answer (the default); 200: always 200.",
            rich_help_panel="Forwarding",
        ),
    ] = None,
    forward_timeout: Annotated[
        float,
        typer.Option(
            "--forward-timeout",
            callback=positive_seconds,
            metavar="SECONDS",
            help="Seconds per forward.",
            rich_help_panel="Forwarding",
        ),
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
            metavar="HEADER",
            help="'Name: value' added to every forwarded request (repeatable).",
            rich_help_panel="Forwarding",
            callback=check_each(_check_header),
        ),
    ] = None,
    retry_backoff: Annotated[
        float,
        typer.Option(
            "--retry-backoff",
            callback=positive_seconds,
            metavar="SECONDS",
            help="First wait before redelivering to a down target.",
            rich_help_panel="Forwarding",
        ),
    ] = 0.5,
    secret: SecretOption = None,
    scheme: Annotated[
        VerifyScheme | None,
        typer.Option(
            "--scheme",
            envvar="WHATSABLE_SCHEME",
            metavar="SCHEME",
            help=f"Signature scheme; auto (the default): whichever the request's headers fit. {one_of(VerifyScheme)}",
            rich_help_panel="Signatures",
        ),
    ] = None,
    tolerance: Annotated[
        int,
        typer.Option(min=0, metavar="SECONDS", help="Allowed timestamp skew.", rich_help_panel="Signatures"),
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
        typer.Option(
            "--record",
            metavar="PATH",
            help="Also write a JSON Lines recording to this file.",
            rich_help_panel="Recording",
        ),
    ] = None,
    no_record: Annotated[
        bool, typer.Option("--no-record", help="Do not record (no history, no file).", rich_help_panel="Recording")
    ] = False,
    no_history: Annotated[
        bool,
        typer.Option("--no-history", help="Keep this run out of the event history.", rich_help_panel="Recording"),
    ] = False,
    history_max_size: Annotated[
        str | None,
        typer.Option(
            "--history-max-size",
            metavar="SIZE",
            help="Prune the oldest events at start when the history is larger (default 1GiB; 0 = no cap).",
            rich_help_panel="Recording",
        ),
    ] = None,
    fsync: Annotated[
        bool,
        typer.Option(
            "--fsync", help="Flush every write to disk (survives power loss; slower).", rich_help_panel="Recording"
        ),
    ] = False,
    event: Annotated[
        list[EventKind] | None,
        typer.Option(
            "--event",
            "-e",
            metavar="EVENT",
            help=f"Only show and forward this event type (repeatable). {one_of(EventKind)}",
            rich_help_panel="Display",
        ),
    ] = None,
    output: Annotated[
        Display | None,
        typer.Option(
            "--output",
            "-o",
            metavar="MODE",
            help=f"Default: pretty on a terminal, else compact. {one_of(Display)}",
            rich_help_panel="Display",
        ),
    ] = None,
    json_output: JsonOption = False,
    show_body: Annotated[
        bool, typer.Option("--show-body", help="Show the JSON body, chat and app answer.", rich_help_panel="Display")
    ] = False,
    max_body: Annotated[
        str,
        typer.Option(
            "--max-body",
            metavar="SIZE",
            help="Largest body kept (larger: 413).",
            rich_help_panel="Serving",
            callback=check_each(_check_size),
        ),
    ] = "1MiB",
    no_tunnel: Annotated[
        bool, typer.Option("--no-tunnel", help="Serve locally only, no ngrok tunnel.", rich_help_panel="Tunnel")
    ] = False,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            metavar="URL",
            help="A public URL you run yourself (shown in the banner).",
            rich_help_panel="Tunnel",
            callback=check_each(_check_public_url),
        ),
    ] = None,
    domain: Annotated[
        str | None,
        typer.Option(
            "--domain",
            metavar="DOMAIN",
            help="Your static ngrok domain: the same public URL every run.",
            rich_help_panel="Tunnel",
            callback=check_each(_check_domain),
        ),
    ] = None,
    basic_auth: Annotated[
        str | None,
        typer.Option(
            "--basic-auth",
            metavar="USER:PASSWORD",
            help="HTTP basic auth in front of the public URL (ngrok policy).",
            rich_help_panel="Tunnel",
            callback=check_each(_check_basic_auth),
        ),
    ] = None,
    ngrok_path: Annotated[
        str | None,
        typer.Option(
            "--ngrok-path",
            metavar="PATH",
            help="The ngrok agent (default: PYNGROK_NGROK_PATH, then PATH).",
            rich_help_panel="Tunnel",
        ),
    ] = None,
    tunnel_timeout: Annotated[
        float,
        typer.Option(
            "--tunnel-timeout",
            callback=positive_seconds,
            metavar="SECONDS",
            help="How long the ngrok agent gets to come up.",
            rich_help_panel="Tunnel",
        ),
    ] = 20.0,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes", "-y", help="Download the ngrok agent, if missing, without asking.", rich_help_panel="Tunnel"
        ),
    ] = False,
    inspect_port: Annotated[
        int | None,
        typer.Option(
            "--inspect-port",
            metavar="PORT",
            help=f"The web inspector's port (default {DEFAULT_INSPECT_PORT}; a free one with --port 0).",
            rich_help_panel="Inspector",
        ),
    ] = None,
    inspect_host: Annotated[
        str | None,
        typer.Option(
            "--inspect-host",
            metavar="HOST",
            help="Loopback only: 127.0.0.1 (default), localhost or ::1.",
            rich_help_panel="Inspector",
        ),
    ] = None,
    no_inspect: Annotated[
        bool, typer.Option("--no-inspect", help="Do not serve the web inspector.", rich_help_panel="Inspector")
    ] = False,
    open_page: Annotated[
        bool, typer.Option("--open", help="Open the web inspector in the browser.", rich_help_panel="Inspector")
    ] = False,
    show_secrets: Annotated[
        bool,
        typer.Option(
            "--show-secrets",
            help="Let the inspector page show signature header values in full.",
            rich_help_panel="Inspector",
        ),
    ] = False,
    config_path: ConfigOption = None,
) -> None:
    """Receive webhooks locally: record, verify, show and forward every event. Ctrl-C to stop."""
    from whatsable_cli.commands.agent_download import agent_ready
    from whatsable_cli.commands.inspect import inspector_beside_listener, open_browser
    from whatsable_cli.commands.listen_settings import ListenOptions, listen_settings, tunnel_settings
    from whatsable_cli.config import load_config
    from whatsable_cli.listen.service import StoppedAtOnce, run
    from whatsable_cli.render.console import print_warning, stderr_console, stdout_console
    from whatsable_cli.render.listen import ListenRenderer, Origin

    mode = "json" if json_output else (output.value if output else ("pretty" if sys.stdout.isatty() else "compact"))
    config = load_config(config_path)
    chosen = pick_secret(ctx, secret, config)
    options = ListenOptions(
        port=port,
        host=host,
        path=path,
        forward_to=forward_to,
        route=route,
        respond=respond.value if respond else None,
        forward_timeout=forward_timeout,
        skip_verify=skip_verify,
        header=header,
        retry_backoff=retry_backoff,
        secret=chosen.value,
        scheme=scheme.value if scheme else None,
        tolerance=tolerance,
        require_signature=require_signature,
        record=record,
        no_record=no_record,
        no_history=no_history,
        history_max_size=history_max_size,
        fsync=fsync,
        event=[kind.value for kind in event] if event else None,
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
    if ngrok is not None:  # before the banner: a missing agent is downloaded (asked first on a terminal)
        agent_ready(ngrok.ngrok_path, yes=yes)
    inspector = None
    if not no_inspect:
        inspector = inspector_beside_listener(
            config, settings, port=inspect_port, host=inspect_host, show_secrets=show_secrets, warn=print_warning
        )
    origin = Origin(config.path, chosen.source if chosen.value else None, inspector.url if inspector else None)
    renderer = ListenRenderer(mode, stdout_console(), stderr_console(), show_body=show_body, origin=origin)
    try:
        tunnel = None
        if ngrok is not None:
            from whatsable_cli.tunnel.ngrok import NgrokTunnel

            tunnel = NgrokTunnel(ngrok, notify=renderer.tunnel_notice)
        if inspector is not None and inspector.url and open_page:
            open_browser(inspector.url, print_warning)
        run(settings, renderer, tunnel=tunnel)
    except StoppedAtOnce:  # a second Ctrl-C while stopping: said, and exit 130 (the first alone exits 0)
        renderer.stopped_at_once()
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    finally:
        renderer.close()
        if inspector is not None:
            inspector.stop()


def register(app: typer.Typer) -> None:
    app.command("listen")(listen)
