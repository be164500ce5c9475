"""`whatsable doctor`: check that `listen` can work here (ngrok agent, authtoken, secret, port, history, clock)."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from whatsable_cli.commands.options import AutoSchemeOption, ConfigOption, JsonOption, SecretOption
from whatsable_cli.config import DEFAULT_HOST, DEFAULT_PORT

if TYPE_CHECKING:
    from whatsable_cli.config import Config
    from whatsable_cli.doctor.checks import Check


def doctor(
    ngrok_path: Annotated[
        str | None,
        typer.Option(
            "--ngrok-path", metavar="PATH", help="The ngrok agent to check (default: found as listen finds it)."
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port", "-p", min=0, max=65535, metavar="PORT", help=f"Port listen will use (default {DEFAULT_PORT})."
        ),
    ] = None,
    host: Annotated[
        str | None, typer.Option("--host", metavar="HOST", help="Interface listen will use (default 127.0.0.1).")
    ] = None,
    secret: SecretOption = None,
    scheme: AutoSchemeOption = None,
    record: Annotated[
        Path | None,
        typer.Option("--record", metavar="PATH", help="Recording file listen will write (its folder is checked)."),
    ] = None,
    no_tunnel: Annotated[bool, typer.Option("--no-tunnel", help="Skip the ngrok checks.")] = False,
    config_path: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Check what `listen` needs; exit 0 when all is well, 6 when the tunnel cannot work, 7 for anything else."""
    from whatsable_cli.config import load_config
    from whatsable_cli.doctor.checks import DoctorSettings, exit_code_for, run_checks
    from whatsable_cli.render.doctor import render_doctor

    config = load_config(config_path)
    recording = config.pick(record, "record")
    settings = DoctorSettings(
        ngrok_path=config.pick(ngrok_path, "ngrok_path"),
        host=str(config.pick(host, "host", DEFAULT_HOST)),
        port=config.pick_port(port, DEFAULT_PORT),
        secret=config.pick(secret, "secret"),
        scheme=str(config.pick(scheme, "scheme", "auto")),
        record_dir=Path(recording).expanduser().parent if isinstance(recording, str | Path) else None,
        tunnel=not no_tunnel,
    )
    checks = [config_check(config), *run_checks(settings)]
    code = exit_code_for(checks)
    render_doctor(checks, int(code), json_output=json_output)
    if code:
        raise typer.Exit(int(code))


def config_check(config: "Config") -> "Check":
    """Which config file was read (the values above came from it), and what in it was ignored."""
    from whatsable_cli.config import LOCAL_CONFIG_NAME
    from whatsable_cli.doctor.checks import OK, WARN, Check
    from whatsable_cli.paths import config_dir

    if config.path is None:
        looked = f"./{LOCAL_CONFIG_NAME}, {config_dir() / LOCAL_CONFIG_NAME}"
        return Check("config file", OK, f"none found (looked for {looked}): defaults, flags and environment")
    if config.warnings:
        return Check("config file", WARN, "; ".join(config.warnings), f"edit {config.path}")
    return Check("config file", OK, str(config.path))


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
