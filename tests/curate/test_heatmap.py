"""The balance heatmap: numeric order, readable counts on every cell colour, explained markers,
integer colour-bar ticks, and many groups cut to the largest plus "other"."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from PIL import Image

from curate.heatmap import MAX_ROWS, draw, ordered, plot_heatmap, text_colours


def counts() -> pd.DataFrame:
    table = pd.DataFrame([[1, 40, 7], [12, 3, 25]], index=["lawbot", "bossbot"], columns=["10", "2", "1"])
    table.index.name, table.columns.name = "label", "street"
    return table


def test_numeric_groups_sort_as_numbers() -> None:
    table = ordered(counts())
    assert list(table.columns) == ["1", "2", "10"] and list(table.index) == ["bossbot", "lawbot"]


def test_text_colour_follows_cell_brightness() -> None:
    cmap = plt.get_cmap("viridis")
    assert text_colours(np.array([cmap(0.0)]))[0] == "white"  # dark purple
    assert text_colours(np.array([cmap(1.0)]))[0] == "black"  # bright yellow


def test_figure_explains_markers_and_uses_integer_ticks() -> None:
    fig = draw(counts(), minimum=5, title="ok rows per label x street")
    try:
        ax, bar = fig.axes
        texts = {t.get_text(): t.get_color() for t in ax.texts}
        assert texts["40"] == "black" and texts["1"] == "white"  # brightest and darkest cell
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "10"]
        ticks = bar.get_yticks()
        assert len(ticks) >= 2 and np.allclose(ticks, np.round(ticks))
        legend = fig.legends[0].get_texts()[0].get_text()
        assert "fewer than 5 rows" in legend
        assert len([p for p in ax.patches if p.get_edgecolor()[0] == 1.0]) == 2  # cells 1 and 3
    finally:
        plt.close(fig)


def test_many_groups_are_cut_to_the_largest(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.integers(0, 50, (3, 300)), index=["a", "b", "c"],
                         columns=[f"scene{i}" for i in range(300)])
    fig = draw(table, title="ok rows per label x scene")
    try:
        ax = fig.axes[0]
        rows = ax.get_images()[0].get_array().shape[0]
        assert rows == MAX_ROWS and "221 smallest rows summed" in ax.get_title()  # long side down
        assert ax.get_yticklabels()[-1].get_text() == "other (221)"
    finally:
        plt.close(fig)
    path = plot_heatmap(table, tmp_path / "h.png", 5)
    assert Image.open(path).size[1] > 300
