"""`whatsable scenarios list|show`: the bundled sequences of events for `send-test --scenario`."""

from typing import Annotated

import typer

from whatsable_cli.commands.options import JsonOption

scenarios_app = typer.Typer(help="Sequences of events for `send-test --scenario`.", no_args_is_help=True)


@scenarios_app.command("list")
def list_command(json_output: JsonOption = False) -> None:
    """List the bundled scenarios (run one with `whatsable send-test URL --scenario NAME`)."""
    from whatsable_cli.render.scenarios import render_scenario_list
    from whatsable_cli.send_test.scenarios import list_bundled

    render_scenario_list(list_bundled(), json_output=json_output)


@scenarios_app.command("show")
def show_command(
    name: Annotated[str, typer.Argument(metavar="NAME|FILE", help="A bundled scenario, or a TOML file to check.")],
    json_output: JsonOption = False,
) -> None:
    """Print a scenario's TOML (copy a bundled one to start your own); a file is checked on the way (exit 7)."""
    from whatsable_cli.render.scenarios import render_scenario
    from whatsable_cli.send_test.scenarios import load_scenario

    render_scenario(load_scenario(name), json_output=json_output)


def register(app: typer.Typer) -> None:
    app.add_typer(scenarios_app, name="scenarios")
