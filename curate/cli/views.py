"""The tables of curate's results, drawn with rich before the result's lines (see :func:`.render.show`).

One function per result type that has tables; each takes the result and the console. pandas comes in
only through the results themselves, so ``--help`` never imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from manifests import schema

from .render import PLAIN, SHOWN, fit_console, titled

if TYPE_CHECKING:
    from ..augment import AugmentReport
    from ..balance import BalanceReport
    from ..dedupe import DedupeResult
    from ..quality.label_issues import LabelIssueReport
    from ..split import SplitReport
    from ..stats import StatsResult


def stats_tables(result: StatsResult, console: Console) -> None:
    """Rows and ok rows, then a table per column (or the cross-tab of two or more)."""
    counts = result.counts
    console.print(f"{counts['rows']} rows, {counts['ok']} ok", highlight=False)
    for title, by in (("status", counts["status"]), *counts["by"].items()):
        if title != "status" and "crosstab" in counts:
            continue  # the cross-tab below holds these counts
        table = titled(f"rows by {title}", console)
        table.add_column(title)
        table.add_column("rows", justify="right")
        for key, n in by.items():
            table.add_row(key, str(n))
        console.print(table)
    if "crosstab" in counts:
        _crosstab(counts["crosstab"], console)


def _crosstab(cross: dict[str, Any], console: Console) -> None:
    import pandas as pd

    frame = pd.DataFrame.from_dict(cross["counts"], orient="index").fillna(0).astype(int)
    frame.index.name, frame.columns.name = " x ".join(cross["rows"]), cross["columns"]
    shown, note = fit_console(frame, console)
    grid = titled(f"ok rows by {' x '.join(cross['rows'])} (down) and {cross['columns']} (across)"
                  if shown.columns.name == cross["columns"] else
                  f"ok rows by {cross['columns']} (down) and {' x '.join(cross['rows'])} (across)", console)
    grid.add_column(str(shown.index.name or ""))
    for col in shown.columns:
        grid.add_column(str(col), justify="right")
    for key, row in shown.iterrows():
        grid.add_row(str(key), *[str(v) for v in row])
    grid.add_row("[bold]all[/]", *[str(v) for v in shown.sum(axis=0)])
    console.print(grid)
    if note:
        console.print(f"table cut to fit the terminal ({note}); every cell: --json", highlight=False)


def balance_tables(report: BalanceReport, console: Console) -> None:
    """Rows per cell before capping, thin cells in red."""
    from ..balance import table

    counts, note = fit_console(table(report.before), console)
    grid = titled(f"ok rows per {' x '.join(report.by)}", console)
    grid.add_column(" x ".join(str(n) for n in counts.index.names if n) or "cell")
    for col in counts.columns:
        grid.add_column(str(col), justify="right")
    summed = {c for c in counts.columns if str(c).startswith("other (")}
    for key, row in counts.iterrows():
        name = " x ".join(map(str, key)) if isinstance(key, tuple) else str(key)
        summed_row = name.startswith("other (")
        grid.add_row(name, *[f"[red]{v}[/]" if v < report.minimum and c not in summed and not summed_row
                             else str(v) for c, v in row.items()])
    console.print(grid)
    if note:
        console.print(f"table cut to fit the terminal ({note}); every cell: --json, or the heatmaps of "
                      "`curate report`", highlight=False)


def split_tables(report: SplitReport, console: Console) -> None:
    """Rows per class and split, with each split's share of the class."""
    from ..text import plural

    grid = titled(f"rows per class and split ({plural(report.groups, 'group')}, {report.items} after "
                  "joining near-duplicates)", console)
    grid.add_column("class")
    for name, ratio in zip(report.splits, report.ratios, strict=True):
        grid.add_column(f"{name} ({ratio:.0%})", justify="right")
    totals = dict.fromkeys(report.splits, 0)
    for cls, row in report.counts.items():
        n = sum(row.values()) or 1
        grid.add_row(cls, *[f"{row[s]} ({row[s] / n:.1%})" for s in report.splits])
        for s in report.splits:
            totals[s] += row[s]
    n = sum(totals.values()) or 1
    grid.add_row("[bold]all[/]", *[f"{totals[s]} ({totals[s] / n:.1%})" for s in report.splits])
    console.print(grid)


def dedupe_tables(result: DedupeResult, console: Console, show_clusters: bool = False) -> None:
    """The clusters (``show_clusters``: a dry run), counts by label and source, and the leak pairs
    (``--leaks``)."""
    frame, summary = result.frame, result.summary
    if show_clusters:
        _clusters(result, console)
    for column in ("label", "source"):
        table = titled(f"near-duplicates by {column}", console)
        for name in (column, "rows", "in clusters", "marked duplicate"):
            table.add_column(name, justify="left" if name == column else "right")
        for key, counts in summary[f"by_{column}"].items():
            table.add_row(key, *(str(counts[c]) for c in ("rows", "clustered", "duplicates")))
        console.print(table)
    if result.leak_check:
        for pair in result.leak_pairs.head(SHOWN).itertuples():
            console.print(f"leak: {frame.at[pair.a, schema.PATH]} ({pair.split_a}) ~ "
                          f"{frame.at[pair.b, schema.PATH]} ({pair.split_b})", **PLAIN)


def _clusters(result: DedupeResult, console: Console) -> None:
    frame = result.frame
    measure = "similarity" if result.summary.get("method") == "embedding" else "distance"
    for cluster in result.clusters[:SHOWN]:
        keeper = cluster[0]
        console.print(f"cluster {frame.at[keeper, schema.DUP_CLUSTER]} ({len(cluster)}): keep "
                      f"{frame.at[keeper, schema.PATH]} ({frame.at[keeper, schema.LABEL]})", **PLAIN)
        for row in cluster[1:]:
            console.print(f"    {frame.at[row, schema.PATH]} ({frame.at[row, schema.LABEL]}) "
                          f"{measure} {result.distances[row]}", **PLAIN)
    if len(result.clusters) > SHOWN:
        more = len(result.clusters) - SHOWN
        console.print(f"... and {more} more {'cluster' if more == 1 else 'clusters'} (--json lists all)")


def augment_tables(report: AugmentReport, console: Console) -> None:
    """Copies per label and value, with the value's share of its label before and after."""
    if not report.copies:
        return
    grid = Table(title=f"augmented copies by label / {report.by}")
    for name in ("label / " + report.by, "copies", "share before", "share after"):
        grid.add_column(name, justify="left" if name.startswith("label") else "right")
    for key, n in report.copies.items():
        before, after = report.shares[key]
        grid.add_row(key, str(n), f"{before:.0%}", f"{after:.0%}")
    console.print(grid)


def label_issue_tables(report: LabelIssueReport, console: Console) -> None:
    """Rows, label issues and off-topic candidates per class and per source, engine, query."""
    for column, counts in report.by.items():
        grid = Table(title=f"label issues by {column}")
        for name in (column, "rows", "label issues", "off-topic"):
            grid.add_column(name, justify="left" if name == column else "right")
        for key, c in list(counts.items())[:20]:
            grid.add_row(key, str(c["rows"]), str(c["issues"]), str(c["off_topic"]))
        console.print(grid)
