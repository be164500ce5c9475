"""`whatsable fixtures list|show`: the bundled WhatsAble payloads of both families, and where each comes from."""

from typing import Annotated

import typer

from whatsable_cli.commands.options import JsonOption, PayloadFormatOption

fixtures_app = typer.Typer(help="The bundled WhatsAble payloads.", no_args_is_help=True)


@fixtures_app.command("list")
def list_command(payload_format: PayloadFormatOption = None, json_output: JsonOption = False) -> None:
    """List the bundled payloads, each with its source page or what it assumes (names work with --fixture,
    `fixtures show` and `replay`)."""
    from whatsable_cli.render.fixtures import render_fixture_list
    from whatsable_cli.webhooks.events import PayloadFormat
    from whatsable_cli.webhooks.fixtures import list_fixtures

    family = None if payload_format is None else PayloadFormat(payload_format.value)
    render_fixture_list(list_fixtures(family), json_output=json_output)


@fixtures_app.command("show")
def show_command(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME",
            help="A fixture name, e.g. message_status/delivered, image, or flat/outgoing_message/teammate.",
            show_default=False,
        ),
    ],
    payload_format: PayloadFormatOption = None,
    json_output: JsonOption = False,
) -> None:
    """Print one payload exactly as bundled (pipe it into `send-test --body-file -` or `jq`); --json: its
    source, assumptions and payload."""
    from whatsable_cli.render.fixtures import render_fixture
    from whatsable_cli.webhooks.events import PayloadFormat
    from whatsable_cli.webhooks.fixtures import find_fixture

    family = None if payload_format is None else PayloadFormat(payload_format.value)
    render_fixture(find_fixture(name, family), json_output=json_output)


def register(app: typer.Typer) -> None:
    app.add_typer(fixtures_app, name="fixtures")
