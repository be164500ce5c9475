"""`whatsable secret generate`: a fresh signing secret of the right form for a scheme."""

from typing import Annotated

import typer

from whatsable_cli.commands.options import JsonOption

secret_app = typer.Typer(help="Signing secrets.", no_args_is_help=True)


@secret_app.command("generate")
def generate(
    scheme: Annotated[
        str, typer.Option("--scheme", help="whatsable (hex text key) or standard/svix (whsec_ key).")
    ] = "whatsable",
    json_output: JsonOption = False,
) -> None:
    """Print a new random secret (the one thing this tool prints a secret for: you asked)."""
    from whatsable_cli.render.console import print_json
    from whatsable_cli.webhooks.signing import generate_secret, get_scheme

    name = get_scheme(scheme).name
    secret = generate_secret(name)
    if json_output:
        print_json({"scheme": name, "secret": secret})
    else:
        typer.echo(secret)


def register(app: typer.Typer) -> None:
    app.add_typer(secret_app, name="secret")
