"""Per-epoch training logs: ``history.csv`` always, TensorBoard event files with ``--log tensorboard``.

:class:`EpochLog` is the loop's ``on_epoch`` hook (rank 0 only). TensorBoard scalars go under
``<run>/tensorboard/`` (``tensorboard --logdir runs/``): ``loss/train``, ``loss/val``,
``accuracy/val``, ``lr`` and ``images_per_s`` per epoch. A resumed run appends only the epochs it
trains, to a new event file in the same folder.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from manifests import UsageError

log = logging.getLogger(__name__)

LOGGERS = ("csv", "tensorboard")
SCALARS = {"train_loss": "loss/train", "val_loss": "loss/val", "val_accuracy": "accuracy/val",
           "lr": "lr", "images_per_s": "images_per_s"}


class EpochLog:
    """Writes history.csv after each epoch, and TensorBoard scalars when asked."""

    def __init__(self, out: Path, kind: str = "csv") -> None:
        if kind not in LOGGERS:
            raise UsageError(f"unknown --log {kind!r}; choose {' or '.join(LOGGERS)}")
        self.out, self.writer, self.logged = out, None, None
        if kind == "tensorboard":
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise UsageError("--log tensorboard needs tensorboard: pip install 'gleanset[tensorboard]'"
                                 ) from None
            self.writer = SummaryWriter(log_dir=str(out / "tensorboard"))

    def __call__(self, state: Any) -> None:
        pd.DataFrame(state.history).to_csv(self.out / "history.csv", index=False)
        if self.writer is None:
            return
        if self.logged is None:  # a resumed run: the epochs before this call were logged already
            self.logged = len(state.history) - 1
        for row in state.history[self.logged:]:
            for key, tag in SCALARS.items():
                self.writer.add_scalar(tag, float(row[key]), int(row["epoch"]))
        self.logged = len(state.history)
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
