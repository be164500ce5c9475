"""Entry point for `python -m whatsable_cli`."""

from whatsable_cli.cli import main

main()
