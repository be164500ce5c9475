"""`whatsable secret generate`: a fresh signing secret of the right form for a scheme."""

from typing import Annotated

import typer

from whatsable_cli.commands.choices import SignScheme, one_of
from whatsable_cli.commands.options import JsonOption

secret_app = typer.Typer(help="Signing secrets.", no_args_is_help=True)


@secret_app.command("generate")
def generate(
    scheme: Annotated[
        SignScheme,
        typer.Option(
            "--scheme",
            metavar="SCHEME",
            help=f"whatsable-hmac: a hex text key; standard, svix: a whsec_ key. {one_of(SignScheme)}",
        ),
    ] = SignScheme.WHATSABLE_HMAC,
    json_output: JsonOption = False,
) -> None:
    """Print a new random secret (the one thing this tool prints a secret for: you asked)."""
    from whatsable_cli.render.console import print_json
    from whatsable_cli.webhooks.signing import generate_secret, get_scheme

    name = get_scheme(scheme.value).name
    secret = generate_secret(name)
    if json_output:
        print_json({"scheme": name, "secret": secret})
    else:
        typer.echo(secret)


def register(app: typer.Typer) -> None:
    app.add_typer(secret_app, name="secret")
