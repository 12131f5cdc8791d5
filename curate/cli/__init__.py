"""``curate``: the command line (one Typer app, :mod:`curate.cli.commands`; the work lives in the curate
library packages)."""

from .commands import COMMANDS, app, main
from .options import ENGINE_NAMES, METHOD_NAMES

__all__ = ["COMMANDS", "ENGINE_NAMES", "METHOD_NAMES", "app", "main"]
