"""``--lr find``: the learning-rate range test (Smith 2015; fastai's ``lr_find``).

Starting from the run's initial weights, train for up to ``steps`` batches while the learning rate grows
exponentially from ``start`` to ``end``, recording the loss (exponentially smoothed, debiased); stop
early once it diverges (4x the best). The suggestion is the rate where the smoothed loss falls fastest
(steepest negative slope against log lr) before its minimum, as fastai's ``steep`` suggestion. The
weights and optimiser are thrown away afterwards: the run starts from the same initial weights. The
curve is saved as ``lr_find.png`` with the choice marked, and the value goes into ``config.json``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .data import to_input
from .model import Arch, set_frozen

log = logging.getLogger(__name__)


@dataclass
class LRFinding:
    """The range test's curve and the suggested learning rate."""

    lrs: list[float]
    losses: list[float]
    suggestion: float

    def to_dict(self) -> dict[str, Any]:
        return {"suggestion": self.suggestion, "range": [self.lrs[0], self.lrs[-1]], "steps": len(self.lrs)}


def lr_range_test(model: nn.Module, arch: Arch, loader: Any, ctx: Any, frozen: bool, start: float = 1e-7,
                  end: float = 10.0, steps: int = 100) -> LRFinding:
    """Run the range test on ``model`` (restored afterwards) over batches of ``loader``."""
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    set_frozen(model, arch, frozen)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=start, weight_decay=0.01)
    gamma = (end / start) ** (1 / max(steps - 1, 1))
    lrs, losses, avg, best = [], [], 0.0, math.inf
    model.train()
    try:
        while len(lrs) < steps:
            for images, targets, _ in loader:
                x = to_input(images, ctx.pre, ctx.device, ctx.augment)
                y = targets.to(ctx.device)
                with ctx.autocast():
                    loss = ctx.loss(model(x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                value = float(loss.detach())
                avg = 0.98 * avg + 0.02 * value
                smooth = avg / (1 - 0.98 ** (len(lrs) + 1))
                lrs.append(opt.param_groups[0]["lr"])
                losses.append(smooth)
                best = min(best, smooth)
                if len(lrs) >= steps or not math.isfinite(smooth) or (len(lrs) > 5 and smooth > 4 * best):
                    break
                for g in opt.param_groups:
                    g["lr"] *= gamma
            else:
                continue
            break
    finally:
        model.load_state_dict(saved)
        model.zero_grad(set_to_none=True)
    return LRFinding(lrs, losses, suggest(lrs, losses))


def suggest(lrs: list[float], losses: list[float]) -> float:
    """The lr of steepest descent of the loss before its minimum (skipping the noisy first points)."""
    loss = np.asarray(losses, dtype=float)
    finite = np.isfinite(loss)
    loss, lr = loss[finite], np.asarray(lrs, dtype=float)[finite]
    if len(loss) < 3:
        return float(lr[0] if len(lr) else 1e-3)
    lowest = int(np.argmin(loss))
    skip = min(len(loss) // 10, max(lowest - 1, 0))
    span = slice(skip, max(lowest + 1, skip + 2))
    slope = np.gradient(loss[span], np.log10(lr[span]))
    return float(lr[span][int(np.argmin(slope))])


def plot(finding: LRFinding, path: Path) -> None:
    """lr_find.png: smoothed loss against learning rate (log scale), the choice marked."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(finding.lrs, finding.losses)
    ax.axvline(finding.suggestion, color="tab:red", linestyle="--",
               label=f"chosen lr {finding.suggestion:.2e}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("smoothed train loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
