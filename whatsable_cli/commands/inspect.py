"""`whatsable inspect`: the local web inspector over the event history, with no listener; and `listen`'s inspector."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from whatsable_cli.commands.examples import HEADING
from whatsable_cli.commands.options import (
    ConfigOption,
    JsonOption,
    SchemeOption,
    SecretOption,
    ShowSecretsOption,
    pick_secret,
)
from whatsable_cli.config import DEFAULT_INSPECT_PORT
from whatsable_cli.errors import BadInputError

if TYPE_CHECKING:
    from whatsable_cli.config import Config
    from whatsable_cli.inspector.server import InspectorThread
    from whatsable_cli.listen.model import ListenSettings


def inspect_port(config: Config, flag: int | None, listener_port: int | None = None) -> int:
    """--inspect-port (inspect: --port) > the config file's inspect_port > a free one when the listener took a
    free one (--port 0: tests and parallel runs must not contend for one fixed port) > the default."""
    fallback = 0 if listener_port == 0 else DEFAULT_INSPECT_PORT
    return config.pick_port(
        flag, fallback, key="inspect_port", what="inspector port", flag="--inspect-port", example=DEFAULT_INSPECT_PORT
    )


def _config_targets(config: Config) -> tuple[str, ...]:
    value = config.get("forward_to")
    values = value if isinstance(value, list) else [value] if value else []
    return tuple(str(url) for url in values)


def open_browser(url: str, warn: Callable[[str], None]) -> None:
    import webbrowser

    if not webbrowser.open(url):
        warn(f"could not open a browser: open {url} yourself")


def inspector_beside_listener(
    config: Config,
    settings: ListenSettings,
    *,
    port: int | None,
    host: str | None,
    show_secrets: bool,
    warn: Callable[[str], None],
) -> InspectorThread | None:
    """`listen`'s inspector, in a thread of its own; a port in use is a warning (the listener runs without it).

    A host that is not loopback is refused (exit 7) before anything starts.
    """
    from whatsable_cli.inspector.model import InspectorSettings, loopback_host
    from whatsable_cli.inspector.server import InspectorThread
    from whatsable_cli.paths import history_path

    inspector_settings = InspectorSettings(
        history_path=settings.history_path or history_path(),
        host=loopback_host(host or "127.0.0.1"),
        port=inspect_port(config, port, settings.port),
        show_secrets=show_secrets,
        secret=settings.secret,
        scheme=settings.scheme,
        targets=settings.routing.targets,
        verify_tls=settings.verify_tls,
    )
    thread = InspectorThread(inspector_settings)
    try:
        thread.start()
    except BadInputError as err:
        warn(f"{err.message}: listening without the inspector ({err.hint})")
        return None
    return thread


def inspect(
    ctx: typer.Context,
    port: Annotated[
        int | None,
        typer.Option("--port", "-p", metavar="PORT", help=f"Port (default {DEFAULT_INSPECT_PORT}; 0 = a free one)."),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option("--host", metavar="HOST", help="A loopback address only: 127.0.0.1 (default), localhost or ::1."),
    ] = None,
    open_page: Annotated[bool, typer.Option("--open", help="Open the page in the browser.")] = False,
    show_secrets: ShowSecretsOption = False,
    secret: SecretOption = None,
    scheme: SchemeOption = None,
    history: Annotated[
        Path | None,
        typer.Option("--history", metavar="PATH", help="Another history database (default: the user data dir's)."),
    ] = None,
    json_output: JsonOption = False,
    config_path: ConfigOption = None,
) -> None:
    """Browse the event history in a local web page: watch, search, compare and replay events. Ctrl-C to stop."""
    from whatsable_cli.config import load_config
    from whatsable_cli.inspector.model import InspectorSettings, loopback_host
    from whatsable_cli.inspector.server import run_inspector
    from whatsable_cli.paths import history_path
    from whatsable_cli.recording.history import History
    from whatsable_cli.recording.schema import database_errors
    from whatsable_cli.render.console import print_warning
    from whatsable_cli.render.inspect import inspector_ready

    config = load_config(config_path)
    for message in config.warnings:
        print_warning(message)
    chosen = pick_secret(ctx, secret, config)
    path = history or history_path()
    with database_errors(path):  # created (and migrated) here, so the page has a history to read at once
        History.open(path).close()
    settings = InspectorSettings(
        history_path=path,
        host=loopback_host(host or "127.0.0.1"),
        port=inspect_port(config, port),
        show_secrets=show_secrets,
        secret=chosen.value,
        scheme=scheme.value if scheme else str(config.get("scheme") or "auto"),
        targets=_config_targets(config),
    )

    def ready(url: str) -> None:
        inspector_ready(url, path, json_output=json_output)
        if open_page:
            open_browser(url, print_warning)

    run_inspector(settings, ready)


EXAMPLES = "\n".join(
    (
        HEADING,
        "whatsable inspect --open           # http://127.0.0.1:4243/ in your browser",
        "whatsable inspect --port 0 --json  # a free port: the first line says which",
        "whatsable listen --inspect-port 4300  # listen serves it beside the listener",
    )
)


def register(app: typer.Typer) -> None:
    app.command("inspect", epilog=EXAMPLES)(inspect)
