"""``curate``: the command line (one Typer app; the work lives in the curate library packages)."""

from .app import ENGINE_NAMES, METHOD_NAMES, app, main

__all__ = ["ENGINE_NAMES", "METHOD_NAMES", "app", "main"]
