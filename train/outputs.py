"""A run folder's outputs: what a finished run holds, where an unfinished one stands, and writing them.

A run is finished only when every file of :data:`OUTPUTS` exists; ``checkpoint.pt`` is removed only
after the last of them is written. So a run killed after ``model.pt`` but before ``metrics.json``,
``predictions.csv`` or ``review.html`` is still unfinished: ``--resume`` writes the missing outputs from
the checkpoint's best weights (or, when the checkpoint is gone, from ``model.pt`` and ``history.csv``)
without training again, and a new run refuses the folder saying what is missing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from manifests import UsageError

from . import explain, metrics
from .data import ManifestDataset, Table
from .device import Context
from .loop import State
from .model import Arch, ModelInfo, save_model

log = logging.getLogger(__name__)

OUTPUTS = ("model.pt", "config.json", "history.csv", "curves.png", "metrics.json", "confusion.png",
           "predictions.csv", "review.html")
NEW, RESUME, OUTPUTS_ONLY = "new", "resume", "outputs"


def missing(out: Path) -> list[str]:
    return [name for name in OUTPUTS if not (out / name).is_file()]


def folder_mode(out: Path, resume: bool) -> str:
    """How a run treats ``out``: ``new``, ``resume`` (from checkpoint.pt) or ``outputs`` (only write
    what a killed run left missing); a one-line usage error when the folder does not allow it."""
    lacking = missing(out)
    checkpoint = (out / "checkpoint.pt").is_file()
    if not lacking:
        raise UsageError(f"{out} already holds a finished run; pass another --out")
    if resume:
        if checkpoint:
            return RESUME
        if (out / "model.pt").is_file() and (out / "history.csv").is_file():
            log.info("%s: training finished; writing the missing %s", out, ", ".join(lacking))
            return OUTPUTS_ONLY
        raise UsageError(f"--resume: {out / 'checkpoint.pt'} does not exist")
    if checkpoint or (out / "model.pt").is_file():
        raise UsageError(f"{out} holds an unfinished run (missing {', '.join(lacking)}); add --resume to "
                         f"continue it or pick another --out")
    return NEW


def state_from_history(out: Path) -> State:
    """The loop state of a run whose training finished, from its history.csv (no best weights)."""
    history = pd.read_csv(out / "history.csv").to_dict("records")
    best = min(history, key=lambda r: r["val_loss"])
    return State(epoch=len(history), best_loss=float(best["val_loss"]), best_epoch=int(best["epoch"]),
                 history=history)


@dataclass
class Evaluated:
    """Probabilities per evaluated split (row order), computed on every rank, and each split's dataset
    (what ``review.html`` reads its pictures from)."""

    probs: dict[str, np.ndarray]
    datasets: dict[str, ManifestDataset]


def write_outputs(model: torch.nn.Module, arch: Arch, info: ModelInfo, table: Table, evaluated: Evaluated,
                  state: State, out: Path, review_k: int, ctx: Context,
                  extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """model.pt, curves, metrics per evaluated split, confusion matrix, predictions and review."""
    save_model(out / "model.pt", model, info)
    history = pd.DataFrame(state.history)
    history.to_csv(out / "history.csv", index=False)
    metrics.plot_curves(history, out / "curves.png")
    result: dict[str, Any] = {"best_epoch": state.best_epoch, "best_val_loss": round(state.best_loss, 5),
                              "stopped_early": state.stopped_early, "skipped": table.skipped, **(extra or {})}
    frames = {}
    for split, probs in evaluated.probs.items():
        rows = table.split(split)
        result[split] = metrics.evaluate(rows, probs, info.classes)
        frames[split] = metrics.predictions_frame(rows, probs, info.classes)
    primary = "test" if "test" in result else "val"
    result["primary"] = primary
    (out / "metrics.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    metrics.plot_confusion(result[primary]["confusion"], info.classes, out / "confusion.png", primary)
    predictions = pd.concat(frames.values(), ignore_index=True)
    predictions.to_csv(out / "predictions.csv", index=False)
    explain.review(model, arch, info, frames[primary], evaluated.datasets[primary], out / "review.html",
                   review_k, ctx)
    return result
