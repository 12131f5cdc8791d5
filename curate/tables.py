"""Tables people can read: natural order, top N plus "other", cross-tabs and plurals.

Used by the CLI (terminal tables that must fit), the heatmap and the HTML report, so a table with 45
scenes reads the same everywhere: the largest columns, one "other (N)" column for the rest, and numeric
values (streets 2, 10, 11) in numeric order rather than as strings (10, 11, 2).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from .text import natural_key, plural

MISSING = "(missing)"
OTHER = "other"
__all__ = ["MISSING", "OTHER", "as_text", "crosstab", "fit", "natural_key", "natural_sorted", "plural",
           "structural_zeros", "top_columns", "top_rows"]


def natural_sorted(values: Iterable[Any]) -> list[Any]:
    """``values`` in natural order (see :func:`natural_key`)."""
    return sorted(values, key=natural_key)


def as_text(series: pd.Series) -> pd.Series:
    """A column as strings, missing values shown as ``(missing)``."""
    return series.astype("string").fillna(MISSING)


def crosstab(frame: pd.DataFrame, rows: Sequence[str], column: str) -> pd.DataFrame:
    """Counts of ``rows`` values (down) by ``column`` values (across), in natural order, zeros filled."""
    keys = pd.DataFrame({f"k{i}": as_text(frame[c]) for i, c in enumerate([*rows, column])})
    if keys.empty:
        return pd.DataFrame(index=pd.Index([], name=rows[0] if len(rows) == 1 else None),
                            columns=pd.Index([], name=column), dtype=int)
    counts = keys.groupby(list(keys.columns), sort=False).size()
    table = counts.unstack(level=-1, fill_value=0)
    table = table.reindex(columns=natural_sorted(table.columns))
    if table.index.nlevels == 1:
        table = table.reindex(index=natural_sorted(table.index))
    else:
        table = table.sort_index()
    table.index.names = list(rows)
    table.columns.name = column
    return table


def top_columns(table: pd.DataFrame, top: int) -> pd.DataFrame:
    """The ``top`` largest columns in natural order, the rest summed into ``other (N)``."""
    if table.shape[1] <= top:
        return table
    totals = table.sum(axis=0).sort_values(ascending=False, kind="stable")
    keep = natural_sorted(totals.index[:top])
    rest = [c for c in table.columns if c not in set(keep)]
    out = table[keep].copy()
    out[f"{OTHER} ({len(rest)})"] = table[rest].sum(axis=1)
    return out


def top_rows(table: pd.DataFrame, top: int) -> pd.DataFrame:
    """The ``top`` largest rows (by total), the rest summed into one ``other (N)`` row."""
    return top_columns(table.T, top).T


def structural_zeros(table: pd.DataFrame, label: str = "label") -> pd.DataFrame:
    """The zero cells of a label x group count table that are zero by construction: when the groups
    are nested in the labels (every group holds a single label: the scenes of films, the posts of
    subreddits), a group's cells for the other labels can never fill and are no thin cells. Groups
    that span labels (streets) have none: there an empty cell is a real gap. The group axis is the
    one not named ``label`` (columns when neither is); summed "other (N)" groups are left out."""
    groups_down = table.columns.name == label and table.index.name != label
    counts = table.T if groups_down else table
    single = (counts.to_numpy() > 0).sum(axis=0) == 1
    summed = pd.Index(map(str, counts.columns)).str.startswith(f"{OTHER} (")
    nested = single & ~summed if counts.shape[0] > 1 and single[~summed].all() else single & False
    mask = pd.DataFrame((counts.to_numpy() == 0) & nested[None, :], index=counts.index,
                        columns=counts.columns)
    return mask.T if groups_down else mask


def fit(table: pd.DataFrame, max_columns: int, max_rows: int | None = None) -> tuple[pd.DataFrame, str]:
    """A table that fits a terminal: long side down, top N columns plus "other"; a note on what was cut."""
    notes = []
    if table.shape[1] > max_columns and table.shape[0] < table.shape[1]:
        table = table.T  # 45 scenes x 3 labels reads better as 45 rows x 3 columns
        notes.append("transposed")
    if table.shape[1] > max_columns:
        notes.append(f"{table.shape[1] - max_columns + 1} smallest columns summed as 'other'")
        table = top_columns(table, max_columns - 1)
    if max_rows is not None and table.shape[0] > max_rows:
        notes.append(f"{table.shape[0] - max_rows + 1} smallest rows summed as 'other'")
        table = top_rows(table, max_rows - 1)
    return table, "; ".join(notes)
