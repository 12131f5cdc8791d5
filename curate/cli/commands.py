"""``curate``: commands that read a manifest and update it in place (atomically) or write ``-o OTHER``.

The one Typer app. Every command is a plain function in a module of this package
(:mod:`.balance`, :mod:`.split`, :mod:`.dedupe`, :mod:`.report`, :mod:`.quality`, :mod:`.review`), listed in
:data:`COMMANDS` and registered here, one way, in the order ``--help`` lists them. The shared options
are :mod:`.options`; printing is :mod:`.render` (and the tables, :mod:`.views`); the work lives in the
curate library packages, imported inside the commands so ``--help`` stays fast.
"""

from __future__ import annotations

import typer

from manifests.cliargs import EPILOG, DebugOpt, VerboseOpt, VersionOpt
from manifests.console import run_app, setup_logging

from . import balance, dedupe, gc, quality, report, review, split
from .options import ENGINE_NAMES, METHOD_NAMES, Command

__all__ = ["COMMANDS", "ENGINE_NAMES", "METHOD_NAMES", "app", "main"]

COMMANDS: tuple[Command, ...] = (balance.STATS, balance.BALANCE, split.SPLIT, dedupe.DEDUPE, balance.AUGMENT,
                                 report.REPORT, report.EXPORT, report.CARD, quality.LABEL_ISSUES,
                                 quality.CHECK, gc.GC, review.REVIEW)

app = typer.Typer(
    name="curate", no_args_is_help=True, rich_markup_mode="rich",
    help="Inspect and clean a manifest: counts, near-duplicates, balance, leak-free splits, export.",
    epilog=EPILOG)


@app.callback()
def _main(verbose: VerboseOpt = 0, debug: DebugOpt = False, version: VersionOpt = False) -> None:
    setup_logging(verbose)


for _command in COMMANDS:
    app.command(_command.name, epilog=_command.epilog)(_command.run)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``curate`` console script."""
    raise SystemExit(run_app(app, argv, "curate"))
