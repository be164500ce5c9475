"""`whatsable fixtures list|show`: the bundled WhatsAble payloads."""

from typing import Annotated

import typer

from whatsable_cli.commands.options import JsonOption

fixtures_app = typer.Typer(help="The bundled WhatsAble payloads.", no_args_is_help=True)


@fixtures_app.command("list")
def list_command(json_output: JsonOption = False) -> None:
    """List the bundled payloads (use a name with --fixture, `fixtures show` or `replay`)."""
    from whatsable_cli.render.fixtures import render_fixture_list
    from whatsable_cli.webhooks.fixtures import list_fixtures

    render_fixture_list(list_fixtures(), json_output=json_output)


@fixtures_app.command("show")
def show_command(
    name: Annotated[str, typer.Argument(help="A fixture name, e.g. message_status/delivered or image.")],
    json_output: JsonOption = False,
) -> None:
    """Print one payload exactly as bundled (pipe it into `send-test --body-file -` or `jq`)."""
    from whatsable_cli.render.fixtures import render_fixture
    from whatsable_cli.webhooks.fixtures import find_fixture

    render_fixture(find_fixture(name), json_output=json_output)


def register(app: typer.Typer) -> None:
    app.add_typer(fixtures_app, name="fixtures")
