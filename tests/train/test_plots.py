"""Training plots people can read: integer epoch ticks, axis labels, the best epoch marked, and the
confusion matrix with its accuracy in the title and readable counts on every cell."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from train.metrics import best_epoch, confusion_figure, curves_figure


def history() -> pd.DataFrame:
    return pd.DataFrame({"epoch": [1, 2, 3, 4, 5], "stage": ["frozen", "unfrozen", "unfrozen", "unfrozen",
                                                                 "unfrozen"],
                         "train_loss": [1.2, 0.9, 0.7, 0.5, 0.4], "val_loss": [1.1, 0.8, 0.6, 0.65, 0.7],
                         "val_accuracy": [0.4, 0.6, 0.75, 0.74, 0.73]})


def test_curves_have_integer_epochs_labels_and_the_best_epoch() -> None:
    assert best_epoch(history()) == 3
    fig = curves_figure(history())
    try:
        for ax in fig.axes:
            ticks = [t for t in ax.get_xticks() if 1 <= t <= 5]
            assert ticks and np.allclose(ticks, np.round(ticks))  # no epoch 2.5
            assert ax.get_xlabel() == "epoch" and ax.get_ylabel() and ax.get_title()
            labels = [t.get_text() for t in ax.get_legend().get_texts()]
            assert "best epoch (3, lowest val loss)" in labels and "backbone unfrozen" in labels
    finally:
        plt.close(fig)


def test_confusion_title_has_accuracy_and_counts_are_readable() -> None:
    fig = confusion_figure([[8, 2], [1, 9]], ("cat", "dog"), "test")
    try:
        assert fig._suptitle.get_text() == "test: accuracy 85.0% on 20 images"
        counts = fig.axes[0]
        colours = {t.get_text(): t.get_color() for t in counts.texts}
        assert colours["9"] == "white" and colours["1"] == "black"  # dark and light blue cells
    finally:
        plt.close(fig)
