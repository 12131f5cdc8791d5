"""``--features-only``: the "bottleneck" method. Backbone features once, then the head in seconds.

The backbone (the model with its head replaced by an identity) runs once over every image of every
split, in eval mode, through the run's loaders and autocast; each image's feature vector is cached as
``<cache>/features/<arch>-<weights tag>-<size>-<resize>/<sha[:2]>/<sha>.npy`` (sha validated), so a later
run on the same images and backbone skips it. The head alone is then trained on the feature matrix in
memory (AdamW, one-cycle, the same loss, balanced sampling by the same weights, early stopping on the
val loss): seconds even for 100,000 images. The trained head is put back into the full model, so
``model.pt``, the metrics, predictions and ``train predict`` are exactly those of a normal run.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim.lr_scheduler import OneCycleLR

from .data import to_input
from .loop import DEFAULT_LR, State, epoch_line, run_eta
from .model import Arch, _set_submodule

log = logging.getLogger(__name__)


def weights_tag(weights: str, seed: int) -> str:
    """What identifies the backbone's weights: imagenet, none-seed<N> or the file's sha256 prefix."""
    if weights == "imagenet":
        return "imagenet"
    if weights == "none":
        return f"none-seed{seed}"
    return "file-" + hashlib.sha256(Path(weights).read_bytes()).hexdigest()[:16]


def backbone(model: nn.Module, arch: Arch) -> nn.Module:
    """A copy of ``model`` whose head is an identity: it outputs the head's input features."""
    net = copy.deepcopy(model)
    _set_submodule(net, arch.head, nn.Identity())
    return net.eval()


class FeatureStore:
    """Feature vectors per image as ``.npy``, in one folder per backbone."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def file(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.npy"

    def load(self, key: str) -> np.ndarray | None:
        try:
            return np.load(self.file(key))
        except (OSError, ValueError):
            return None

    def save(self, key: str, vector: np.ndarray) -> None:
        file = self.file(key)
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(f".{file.stem}.{os.getpid()}.npy")
        np.save(tmp, vector)  # plain open(): the user's umask applies
        os.replace(tmp, file)


@torch.inference_mode()
def extract(net: nn.Module, loader: Any, keys: list[str], store: FeatureStore, ctx: Any) -> torch.Tensor:
    """``(N, D)`` float features of a split in row order, from the store or the backbone."""
    cached = [store.load(k) for k in keys]
    out: list[np.ndarray | None] = list(cached)
    if any(c is None for c in cached):
        for images, _, index in loader:
            todo = [i for i in index.tolist() if cached[i] is None]
            if not todo:
                continue
            with ctx.autocast():
                feats = net(to_input(images, ctx.pre, ctx.device)).float().cpu().numpy()
            for row, vec in zip(index.tolist(), feats, strict=True):
                if cached[row] is None:
                    out[row] = vec
                    store.save(keys[row], vec)
    return torch.from_numpy(np.stack(out)).float()


def train_head(head: nn.Linear, feats: dict[str, torch.Tensor], targets: dict[str, torch.Tensor],
               ctx: Any, epochs: int, lr: float | None, batch: int, weights: np.ndarray | None,
               patience: int, progress: Any, on_epoch: Any = None, seed: int = 0) -> State:
    """Train ``head`` on cached features; returns the state with the best head weights loaded."""
    head = head.to(ctx.device).train()
    x, y = feats["train"].to(ctx.device), targets["train"].to(ctx.device)
    steps = max(1, len(x) // batch)
    opt = torch.optim.AdamW(head.parameters(), lr=lr or DEFAULT_LR * 5, weight_decay=0.01)
    sched = OneCycleLR(opt, max_lr=lr or DEFAULT_LR * 5, total_steps=max(4, epochs * steps))
    gen = torch.Generator().manual_seed(seed)
    probs = torch.as_tensor(weights, dtype=torch.double) if weights is not None else None
    state = State()
    started = time.perf_counter()
    progress.total(epochs, "training the head (epochs)")
    for _ in range(epochs):
        bar = progress.task(f"head epoch {state.epoch + 1}/{epochs}", steps, transient=True)
        start, total, seen = time.perf_counter(), 0.0, 0
        order = torch.multinomial(probs, len(x), True, generator=gen) if probs is not None \
            else torch.randperm(len(x), generator=gen)
        head.train()
        for i in range(steps):
            part = order[i * batch:(i + 1) * batch].to(ctx.device)
            loss = ctx.loss(head(x[part]), y[part])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(part)
            seen += len(part)
            bar.advance()
        seconds = time.perf_counter() - start
        val_loss, val_acc = _evaluate(head, feats["val"], targets["val"], ctx)
        state.epoch += 1
        state.observe(val_loss, head, patience)
        state.history.append({
            "epoch": state.epoch, "stage": "head", "train_loss": round(total / max(seen, 1), 5),
            "val_loss": round(val_loss, 5), "val_accuracy": round(val_acc, 4),
            "lr": f"{max(g['lr'] for g in opt.param_groups):.3g}",
            "images_per_s": round(seen / max(seconds, 1e-9), 1), "seconds": round(seconds, 3)})
        bar.done()
        progress.advance()
        progress.note(epoch_line(state.history[-1])
                      + run_eta(time.perf_counter() - started, state.epoch, epochs - state.epoch))
        if on_epoch:
            on_epoch(state)
        if state.stopped_early:
            break
    if state.best_state is not None:
        head.load_state_dict(state.best_state)
    return state


@torch.inference_mode()
def _evaluate(head: nn.Linear, x: torch.Tensor, y: torch.Tensor, ctx: Any) -> tuple[float, float]:
    head.eval()
    logits = head(x.to(ctx.device))
    y = y.to(ctx.device)
    loss = float(ctx.loss(logits, y))
    pred = (logits[:, 0] > 0).long() if ctx.binary else logits.argmax(dim=1)
    return loss, float((pred == y).float().mean())


def features_only(model: nn.Module, arch: Arch, loaders: dict[str, Any], keys: dict[str, list[str]],
                  targets: dict[str, np.ndarray], folder: Path, ctx: Any, **train_kwargs: Any) -> State:
    """Cache backbone features for every split, train the head on them, put it back into ``model``."""
    store = FeatureStore(folder)
    net = backbone(model, arch)
    feats = {split: extract(net, loaders[split], keys[split], store, ctx) for split in ("train", "val")}
    tensors = {s: torch.as_tensor(np.array(targets[s])) for s in feats}
    return train_head(model.get_submodule(arch.head), feats, tensors, ctx, **train_kwargs)
