"""`whatsable listen`: a local listener that records, verifies, shows and forwards live WhatsAble events."""

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from whatsable_cli.commands.options import ConfigOption, JsonOption, SecretOption, parse_headers
from whatsable_cli.errors import BadInputError

if TYPE_CHECKING:
    from whatsable_cli.config import Config
    from whatsable_cli.listen_model import ListenSettings
    from whatsable_cli.tunnel_settings import TunnelSettings

DEFAULT_PORT = 4242  # kept equal to listen_model.DEFAULT_PORT (not imported: --help stays fast)
SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20}


def parse_size(text: str) -> int:
    """`1048576`, `512k`, `1MiB` -> bytes."""
    stripped = text.strip().lower()
    digits = stripped.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = stripped[len(digits) :]
    if not digits.isdigit() or unit not in SIZE_UNITS or int(digits) <= 0:
        raise BadInputError(f"bad size {text!r}", hint="e.g. --max-body 1048576, 512k or 2MiB", code="bad_size")
    return int(digits) * SIZE_UNITS[unit]


def _config_routes(value: Any) -> list[str]:
    """Routes in the config file: a table {event = url} or a list of "EVENT=URL"."""
    if isinstance(value, dict):
        return [f"{event}={url}" for event, url in value.items()]
    if isinstance(value, list):
        return [str(item) for item in value]
    return []


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _record_path(config: "Config", record: Path | None, no_record: bool) -> Path | None:
    from whatsable_cli.paths import new_recording_path

    if no_record:
        return None
    configured = config.pick(record, "record")
    if configured is False:
        return None
    return Path(configured).expanduser() if configured not in (None, True, "") else new_recording_path()


def _build_settings(config: "Config", options: dict[str, Any]) -> "ListenSettings":
    from whatsable_cli.forwarder import RetryPolicy, Routing, check_target_url, parse_route
    from whatsable_cli.listen_model import RESPOND_200, RESPOND_RELAY, ListenSettings
    from whatsable_cli.signing import get_scheme

    forward_to = [check_target_url(url) for url in (options["forward_to"] or _as_list(config.get("forward_to")))]
    routes = [parse_route(spec) for spec in (options["route"] or _config_routes(config.get("routes")))]
    scheme = str(config.pick(options["scheme"], "scheme", "auto")).lower()
    if scheme != "auto":
        get_scheme(scheme)  # an unknown scheme is exit 7 now, not a failure per request
    secret = config.pick(options["secret"], "secret")
    if options["require_signature"] and not secret:
        raise BadInputError(
            "--require-signature needs a secret to verify with",
            hint="pass --secret or set WHATSABLE_SECRET",
            code="no_secret",
        )
    respond = options["respond"] or RESPOND_RELAY
    if respond not in (RESPOND_RELAY, RESPOND_200):
        raise BadInputError(f"unknown --respond {respond!r}", hint="use --respond relay or --respond 200")
    path = str(config.pick(options["path"], "path", "/webhook"))
    return ListenSettings(
        host=str(config.pick(options["host"], "host", "127.0.0.1")),
        port=int(config.pick(options["port"], "port", DEFAULT_PORT)),
        path=path if path.startswith("/") else "/" + path,
        record_path=_record_path(config, options["record"], options["no_record"]),
        fsync=options["fsync"],
        secret=str(secret) if secret else None,
        scheme=scheme,
        tolerance=options["tolerance"],
        require_signature=options["require_signature"],
        routing=Routing(tuple(forward_to), tuple(routes)),
        forward_timeout=options["forward_timeout"],
        extra_headers=tuple(parse_headers(options["header"])),
        verify_tls=not options["skip_verify"],
        respond=respond,
        event_filter=frozenset(options["event"] or ()),
        max_body=parse_size(options["max_body"]),
        retry=RetryPolicy(initial=options["retry_backoff"]),
        public_url=options["public_url"],
    )


def _tunnel_settings(config: "Config", options: dict[str, Any], path: str) -> "TunnelSettings | None":
    """The ngrok tunnel's settings, checked before anything starts; None with --no-tunnel or --public-url."""
    from whatsable_cli.tunnel_settings import TunnelSettings, basic_auth_policy, normalise_domain

    if options["no_tunnel"] or options["public_url"] is not None:
        if options["domain"] or options["basic_auth"]:
            raise BadInputError(
                "--domain and --basic-auth apply to the ngrok tunnel",
                hint="drop them, or drop --no-tunnel / --public-url",
                code="no_tunnel_options",
            )
        return None
    domain = config.pick(options["domain"], "domain")
    if options["basic_auth"]:
        basic_auth_policy(options["basic_auth"])
    if options["tunnel_timeout"] <= 0:
        raise BadInputError("--tunnel-timeout must be more than 0 seconds", hint="e.g. --tunnel-timeout 30")
    return TunnelSettings(
        ngrok_path=config.pick(options["ngrok_path"], "ngrok_path"),
        domain=normalise_domain(str(domain)) if domain else None,
        basic_auth=options["basic_auth"],
        start_timeout=options["tunnel_timeout"],
        self_test_path=path,
    )


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
        float, typer.Option("--forward-timeout", help="Seconds per forward.", rich_help_panel="Forwarding")
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
            "--retry-backoff", help="First wait (s) before redelivering to a down target.", rich_help_panel="Forwarding"
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
        int, typer.Option(help="Allowed timestamp skew in seconds.", rich_help_panel="Signatures")
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
    options = dict(locals())  # the parameters, before anything else is bound
    from whatsable_cli.config import load_config
    from whatsable_cli.listen import run
    from whatsable_cli.render.console import print_warning, stderr_console, stdout_console
    from whatsable_cli.render.listen import OUTPUT_MODES, ListenRenderer

    mode = "json" if json_output else (output or ("pretty" if sys.stdout.isatty() else "compact"))
    if mode not in OUTPUT_MODES:
        raise BadInputError(f"unknown --output {mode!r}", hint=f"use one of: {', '.join(OUTPUT_MODES)}")
    config = load_config(config_path)
    settings = _build_settings(config, options)
    tunnel_settings = _tunnel_settings(config, options, settings.path)
    for message in config.warnings:
        print_warning(message)
    renderer = ListenRenderer(mode, stdout_console(), stderr_console(), show_body=show_body)
    try:
        tunnel = None
        if tunnel_settings is not None:
            from whatsable_cli.tunnel import NgrokTunnel

            tunnel = NgrokTunnel(tunnel_settings, notify=renderer.tunnel_notice)
        run(settings, renderer, tunnel=tunnel)
    finally:
        renderer.close()


def register(app: typer.Typer) -> None:
    app.command("listen")(listen)
