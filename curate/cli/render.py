"""How the curate CLI prints a stage's result: ``--json``, or its tables and then its lines.

:func:`show` is the one printer: every command hands it the stage's result
(a :class:`curate.contract.StageResult`) and, for results that have them, the function that draws
its tables (:mod:`curate.cli.views`); the exit status is the result's own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from manifests.console import print_json

if TYPE_CHECKING:
    import pandas as pd

    from ..contract import StageResult

PLAIN = {"markup": False, "highlight": False, "soft_wrap": True}
SHOWN = 30  # clusters or leak pairs printed before "... and N more"
MAX_ROWS = 40  # rows of a count table printed before the rest are summed as "other"


def show(result: StageResult, as_json: bool, tables: Callable[[Any, Console], None] | None = None,
         stderr: bool = False) -> int:
    """Print ``result``: its ``to_dict()`` as JSON, or its tables and ``lines()``; returns its exit status."""
    if as_json:
        print_json(result.to_dict())
    else:
        console = Console(stderr=stderr)
        if tables is not None:
            tables(result, console)
        for line in result.lines():
            console.print(line, **PLAIN)
    return int(result.exit_status())


def titled(title: str, console: Console | None = None) -> Table:
    """A table at least as wide as its title, so the title never wraps mid-word."""
    width = (console or Console()).width
    return Table(title=title, min_width=min(len(title) + 4, width))


def fit_console(counts: pd.DataFrame, console: Console) -> tuple[pd.DataFrame, str]:
    """The count table cut to the terminal: long side down, top columns and rows plus 'other'."""
    from ..tables import fit

    names = [" x ".join(map(str, k)) if isinstance(k, tuple) else str(k) for k in counts.index]
    name_w = min(30, max([len(n) for n in names] + [8])) + 4
    col_w = min(12, max([len(str(c)) for c in counts.columns] + [len(str(counts.to_numpy().max()))
                                                                   if counts.size else 1]) + 3)
    return fit(counts, max(3, (console.width - name_w) // max(col_w, 5)), MAX_ROWS)
