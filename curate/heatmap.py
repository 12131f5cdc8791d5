"""The ``curate balance --plot`` heatmap: rows per cell of two (or more) columns, thin cells outlined.

Readable by construction: numeric group values in numeric order (street 2 before 10), the long side
down the page, at most ``MAX_ROWS`` rows (the smallest summed as "other (N)"), each count written in
black or white by the brightness of its cell, thin cells outlined in red and explained in a legend, and
integer ticks on the colour bar. Zeros by construction (a group that holds one label, such as a scene
of one film: :func:`curate.tables.structural_zeros`) are hatched grey and never called thin.
matplotlib runs on the Agg backend (no display needed).
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import MaxNLocator

from .tables import fit, natural_key, structural_zeros

ANNOTATE_LIMIT = 40  # write the count in each cell when neither side has more labels than this
MAX_TICKS = 60  # label at most this many rows (or columns); the others are still drawn
MAX_ROWS = 80  # rows drawn; the smallest beyond this are summed as "other (N)"
MAX_COLUMNS = 40  # columns drawn (after putting the long side down)


def ordered(table: pd.DataFrame) -> pd.DataFrame:
    """Rows and columns in natural order: numbers as numbers, inside strings too."""
    rows = sorted(table.index, key=lambda k: tuple(map(natural_key, k)) if isinstance(k, tuple)
                  else natural_key(k))
    return table.loc[rows, sorted(table.columns, key=natural_key)]


def prepare(table: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The table as drawn: ordered, long side down, cut to size; and a note on what was cut."""
    shown, note = fit(ordered(table), MAX_COLUMNS, MAX_ROWS)
    return shown, note


def text_colours(rgba: np.ndarray) -> np.ndarray:
    """Black on light cells, white on dark ones (relative luminance of each cell colour)."""
    luminance = rgba[..., :3] @ np.array([0.2126, 0.7152, 0.0722])
    return np.where(luminance > 0.45, "black", "white")


def draw(table: pd.DataFrame, minimum: int = 0, title: str = "") -> Figure:
    """The heatmap figure of ``table`` (rows x columns of counts); the caller saves and closes it."""
    table, note = prepare(table)
    values = table.to_numpy(dtype=float)
    rows = [" x ".join(map(str, k)) if isinstance(k, tuple) else str(k) for k in table.index]
    cols = [str(c) for c in table.columns]
    fig_w = min(24.0, 3.5 + 0.6 * len(cols))
    fig_h = min(30.0, 2.2 + 0.35 * len(rows))
    fig, ax = plt.subplots(figsize=(fig_w, fig_h), layout="constrained")
    image = ax.imshow(values, cmap="viridis", aspect="auto", vmin=0)
    fig.colorbar(image, ax=ax, label="rows", ticks=MaxNLocator(integer=True))
    xs, ys = _ticks(len(cols)), _ticks(len(rows))
    ax.set_xticks(xs, labels=[cols[i] for i in xs], rotation=45, ha="right")
    ax.set_yticks(ys, labels=[rows[i] for i in ys])
    ax.set_xlabel(str(table.columns.name or ""))
    ax.set_ylabel(" x ".join(str(n) for n in table.index.names if n is not None))
    ax.set_title((title or "rows per cell") + (f"\n({note})" if note else ""), wrap=True)
    nested = structural_zeros(table).to_numpy()
    for i, j in zip(*np.nonzero(nested), strict=True):
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="#d9d9d9", edgecolor="#999999",
                               hatch="//", lw=0))
    thin = _mark_thin(ax, values, table, minimum, nested)
    if len(rows) <= ANNOTATE_LIMIT and len(cols) <= ANNOTATE_LIMIT:
        colours = text_colours(image.cmap(image.norm(values)))
        for (i, j), v in np.ndenumerate(values):
            if not nested[i, j]:
                ax.text(j, i, f"{int(v)}", ha="center", va="center", color=colours[i, j], fontsize=8,
                        fontweight="bold" if thin[i, j] else "normal")
    handles = []
    if thin.any():
        handles.append(Patch(facecolor="none", edgecolor="red", lw=1.5,
                             label=f"red outline: fewer than {minimum} rows (thin cell)"))
    if nested.any():
        handles.append(Patch(facecolor="#d9d9d9", edgecolor="#999999", hatch="//",
                             label="hatched: zero by construction (the group holds one label)"))
    if handles:
        fig.legend(handles=handles, loc="outside lower center", frameon=False)
    return fig


def plot_heatmap(table: pd.DataFrame, path: str | os.PathLike[str], minimum: int = 0,
                 title: str = "") -> Path:
    """Draw ``table`` (rows x columns of counts) to ``path``; cells under ``minimum`` outlined."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = draw(table, minimum, title)
    try:
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
    return path


def _ticks(n: int) -> np.ndarray:
    """At most ``MAX_TICKS`` evenly spaced tick positions, always the last (the "other" row)."""
    ticks = np.arange(0, n, max(1, int(np.ceil(n / MAX_TICKS))))
    return ticks if not n or ticks[-1] == n - 1 else np.append(ticks[:-1], n - 1)


def _mark_thin(ax: plt.Axes, values: np.ndarray, table: pd.DataFrame, minimum: int,
               nested: np.ndarray) -> np.ndarray:
    """Outline cells under ``minimum`` (not the summed "other" row or column, nor zeros by
    construction); returns the mask."""
    thin = (values < minimum) & ~nested
    summed_cols = np.array([str(c).startswith("other (") for c in table.columns])
    summed_rows = np.array([str(k).startswith("other (") for k in table.index])
    thin[:, summed_cols] = False
    thin[summed_rows, :] = False
    for i, j in zip(*np.nonzero(thin), strict=True):
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", lw=1.5))
    return thin
