"""``curate``: commands that read a manifest and update it in place (atomically) or write ``-o OTHER``.

The CLI parses options and prints; the work lives in the curate library modules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from manifests import InputError, read
from manifests.console import print_json, run_app, setup_logging

from .stats import stats

app = typer.Typer(
    name="curate", no_args_is_help=True, rich_markup_mode="rich",
    help="Inspect and clean a manifest: counts, near-duplicates, balance, leak-free splits, export.",
    epilog="Add --debug to any command to see the traceback of an error.")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]


@app.callback()
def _main(verbose: Annotated[int, typer.Option("--verbose", "-v", count=True,
                                               help="More log output (-vv for debug).")] = 0) -> None:
    setup_logging(verbose)


@app.command("stats", epilog="Example:\n\n  curate stats data/manifest.csv --by label,street")
def stats_cmd(
    manifest: Annotated[Path, typer.Argument(help="Manifest to read (.csv or .parquet).")],
    by: Annotated[str, typer.Option(help="Comma-separated columns to count rows by.")] = "label",
    as_json: JsonOpt = False,
) -> None:
    """Count rows by status and by any columns (label, source, street, scene...)."""
    if not manifest.exists():
        raise InputError(f"{manifest} does not exist")
    result = stats(read(manifest), [c.strip() for c in by.split(",") if c.strip()])
    if as_json:
        print_json(result)
        return
    console = Console()
    console.print(f"{result['rows']} rows, {result['ok']} ok", highlight=False)
    for title, counts in (("status", result["status"]), *result["by"].items()):
        table = Table(title=f"rows by {title}")
        table.add_column(title)
        table.add_column("rows", justify="right")
        for key, n in counts.items():
            table.add_row(key, str(n))
        console.print(table)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``curate`` console script."""
    raise SystemExit(run_app(app, argv, "curate"))
