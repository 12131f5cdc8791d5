"""What a trained model got right: metrics, per-group accuracy, predictions table and plots.

``evaluate`` turns a split's rows and predicted probabilities into ``metrics.json`` material: accuracy,
macro-F1, per-class precision/recall/F1/support (scikit-learn) and accuracy per value of source,
subreddit and every group column the manifest records (:func:`manifests.group_columns`: street, scene,
video, post_id, a user's own site...): the table that exposes a leak.
``predictions_frame`` is ``predictions.csv`` (joinable to the manifest by sha256). Plots use
matplotlib's Agg backend (no display needed), imported when a plot is drawn: a process that only
predicts, embeds or exports does not pay for it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from manifests import group_columns, schema

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

PREDICTION = "prediction"
CONFIDENCE = "confidence"
CORRECT = "correct"


def predictions_frame(rows: pd.DataFrame, probs: np.ndarray, classes: tuple[str, ...]) -> pd.DataFrame:
    """One row per image: sha256, path, label, prediction, confidence, p_<class>..., split."""
    pred = probs.argmax(axis=1)
    out = pd.DataFrame({
        schema.SHA256: rows[schema.SHA256].to_numpy(),
        schema.PATH: rows[schema.PATH].to_numpy(),
        schema.LABEL: rows[schema.LABEL].to_numpy(),
        PREDICTION: np.asarray(classes, dtype=object)[pred],
        CONFIDENCE: probs.max(axis=1).round(6),
        schema.SPLIT: rows[schema.SPLIT].to_numpy(),
    })
    for i, name in enumerate(classes):
        out[f"p_{name}"] = probs[:, i].round(6)
    out[CORRECT] = out[schema.LABEL] == out[PREDICTION]
    return out


def group_accuracy(rows: pd.DataFrame, correct: np.ndarray) -> dict[str, dict[str, dict[str, float]]]:
    """Accuracy and count per value of source, subreddit and every group column the manifest records."""
    result: dict[str, dict[str, dict[str, float]]] = {}
    for col in dict.fromkeys((*schema.REPORT_COLUMNS, *group_columns(rows))):
        if col not in rows.columns or rows[col].isna().all():
            continue
        keys = rows[col].astype("string").fillna("(none)").to_numpy()
        frame = pd.DataFrame({"key": keys, "ok": correct.astype(float)})
        stats = frame.groupby("key")["ok"].agg(["mean", "size"])
        result[col] = {str(k): {"accuracy": round(float(r["mean"]), 4), "n": int(r["size"])}
                       for k, r in stats.iterrows()}
    return result


def evaluate(rows: pd.DataFrame, probs: np.ndarray, classes: tuple[str, ...]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class P/R/F1/support, confusion matrix and per-group accuracy."""
    # scikit-learn (and SciPy under it) is imported here, not with the module: 1.6 CPU s that
    # predict, export, embed and the other ranks of a torchrun never need
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    index = {c: i for i, c in enumerate(classes)}
    y_true = rows[schema.LABEL].map(index).to_numpy(dtype=np.int64)
    y_pred = probs.argmax(axis=1)
    labels = list(range(len(classes)))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        "n": len(rows),
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
        "macro_f1": round(float(f1_score(y_true, y_pred, labels=labels, average="macro",
                                         zero_division=0)), 4),
        "per_class": {c: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                          "f1": round(float(f[i]), 4), "support": int(s[i])}
                      for i, c in enumerate(classes)},
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "groups": group_accuracy(rows, y_true == y_pred),
    }


def _pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def accuracy_of(matrix: np.ndarray) -> float:
    """Share of the confusion matrix on its diagonal."""
    total = matrix.sum()
    return float(np.trace(matrix) / total) if total else 0.0


def plot_confusion(matrix: list[list[int]], classes: tuple[str, ...], path: Path, title: str = "") -> None:
    """confusion.png: counts on the left, row-normalised (recall) on the right; accuracy in the title."""
    fig = confusion_figure(matrix, classes, title)
    fig.savefig(path, dpi=100)
    _pyplot().close(fig)


def confusion_figure(matrix: list[list[int]], classes: tuple[str, ...], title: str = "") -> Figure:
    """The confusion figure; the caller saves and closes it."""
    counts = np.asarray(matrix, dtype=float)
    norm = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    n = len(classes)
    side = max(4.0, 0.5 * n + 2.5)
    fig, axes = _pyplot().subplots(1, 2, figsize=(2 * side + 1, side + 0.6), layout="constrained")
    panels = ((axes[0], counts, "counts", "{:.0f}"), (axes[1], norm, "share of each true class", "{:.2f}"))
    for ax, data, name, fmt in panels:
        image = ax.imshow(data, cmap="Blues", vmin=0, vmax=max(data.max(), 1e-9))
        ax.set_title(name)
        ax.set_xticks(range(n), classes, rotation=45, ha="right")
        ax.set_yticks(range(n), classes)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        if n <= 30:
            rgba = image.cmap(image.norm(data))
            light = rgba[..., :3] @ np.array([0.2126, 0.7152, 0.0722]) > 0.5
            for i in range(n):
                for j in range(n):
                    ax.text(j, i, fmt.format(data[i, j]), ha="center", va="center", fontsize=8,
                            color="black" if light[i, j] else "white")
    where = f"{title}: " if title else ""
    fig.suptitle(f"{where}accuracy {accuracy_of(counts):.1%} on {int(counts.sum())} images")
    return fig


def best_epoch(history: pd.DataFrame) -> int | None:
    """The epoch with the lowest validation loss (the weights early stopping keeps), if any."""
    if "val_loss" not in history or history["val_loss"].isna().all():
        return None
    return int(history.loc[history["val_loss"].idxmin(), "epoch"])


def plot_curves(history: pd.DataFrame, path: Path, best: int | None = None) -> None:
    """curves.png: train/val loss and val accuracy per epoch; the unfreeze point and best epoch marked."""
    fig = curves_figure(history, best)
    fig.savefig(path, dpi=100)
    _pyplot().close(fig)


def curves_figure(history: pd.DataFrame, best: int | None = None) -> Figure:
    """The training-curves figure; the caller saves and closes it."""
    from matplotlib.ticker import MaxNLocator

    best = best_epoch(history) if best is None else best
    fig, (ax_loss, ax_acc) = _pyplot().subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(history["epoch"], history["train_loss"], marker="o", label="train loss")
    ax_loss.plot(history["epoch"], history["val_loss"], marker="o", label="val loss")
    ax_acc.plot(history["epoch"], history["val_accuracy"], marker="o", color="tab:green",
                label="val accuracy")
    frozen = history[history["stage"] == "frozen"]
    for ax, ylabel in ((ax_loss, "loss"), (ax_acc, "validation accuracy")):
        if not frozen.empty and len(frozen) < len(history):
            ax.axvline(frozen["epoch"].max() + 0.5, color="grey", linestyle="--", label="backbone unfrozen")
        if best is not None:
            ax.axvline(best, color="tab:red", linestyle=":", label=f"best epoch ({best}, lowest val loss)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
    ax_loss.set_title("loss per epoch")
    ax_acc.set_title("validation accuracy per epoch")
    ax_acc.set_ylim(0, 1.02)
    fig.tight_layout()
    return fig
