"""The ``curate balance --plot`` heatmap: rows per cell of two (or more) columns, thin cells outlined.

matplotlib runs on the Agg backend (no display needed), so the plot works on servers and in CI.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

ANNOTATE_LIMIT = 40  # write the count in each cell when neither side has more labels than this
MAX_TICKS = 60  # label at most this many rows (or columns); the others are still drawn


def plot_heatmap(table: pd.DataFrame, path: str | os.PathLike[str], minimum: int = 0,
                 title: str = "") -> Path:
    """Draw ``table`` (rows x columns of counts) as a heatmap to ``path``; cells under ``minimum`` in red."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if table.shape[1] > ANNOTATE_LIMIT and table.shape[1] > table.shape[0]:
        table = table.T  # the long side (scenes, posts) goes down the page
    values = table.to_numpy(dtype=float)
    rows = [" x ".join(map(str, k)) if isinstance(k, tuple) else str(k) for k in table.index]
    cols = [str(c) for c in table.columns]
    fig_w = min(24.0, 2.5 + 0.6 * len(cols))
    fig_h = min(24.0, 1.5 + 0.4 * len(rows))
    fig, ax = plt.subplots(figsize=(fig_w, fig_h), layout="constrained")
    try:
        image = ax.imshow(values, cmap="viridis", aspect="auto")
        fig.colorbar(image, ax=ax, label="rows")
        xs, ys = _ticks(len(cols)), _ticks(len(rows))
        ax.set_xticks(xs, labels=[cols[i] for i in xs], rotation=45, ha="right")
        ax.set_yticks(ys, labels=[rows[i] for i in ys])
        ax.set_xlabel(str(table.columns.name or ""))
        ax.set_ylabel(" x ".join(str(n) for n in table.index.names if n is not None))
        ax.set_title(title or "rows per cell")
        if len(rows) <= ANNOTATE_LIMIT and len(cols) <= ANNOTATE_LIMIT:
            _annotate(ax, values, minimum)
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
    return path


def _ticks(n: int) -> np.ndarray:
    """At most ``MAX_TICKS`` evenly spaced tick positions."""
    return np.arange(0, n, max(1, int(np.ceil(n / MAX_TICKS))))


def _annotate(ax: plt.Axes, values: np.ndarray, minimum: int) -> None:
    top = values.max() if values.size else 0
    for (i, j), v in np.ndenumerate(values):
        thin = v < minimum
        colour = "red" if thin else ("black" if v > top * 0.6 else "white")
        ax.text(j, i, f"{int(v)}", ha="center", va="center", color=colour,
                fontweight="bold" if thin else "normal", fontsize=8)
        if thin:
            ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", lw=1.5))
