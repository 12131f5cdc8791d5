"""The fine-tuning loop: two stages of one-cycle AdamW, early stopping, AMP, checkpoints and resume.

The schedule follows fastai's ``fine_tune``: ``epochs`` in total, the first ``freeze_epochs`` of them
with the backbone frozen and a one-cycle schedule on the head (none when there are no pretrained
weights to protect), the rest with everything unfrozen, discriminative learning rates (the earliest
layers 100x lower than the head) and a fresh one-cycle. Early stopping watches the validation loss, is
announced when it happens, and the best weights are restored at the end. A checkpoint is written after
every epoch; Ctrl-C stops with a message and ``resume=True`` continues from the last finished epoch.
Under ``torchrun`` the model is wrapped in DDP per stage, samplers shard by rank, validation is split
across ranks and gathered, and only rank 0 writes or reports.
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.lr_scheduler import OneCycleLR

from manifests import ExitStatus, GleansetError, InputError
from manifests.progress import NoProgress, Progress

from .data import to_input
from .device import Context, probabilities
from .distributed import all_sum, gather_rows, rank_world, sync_from_rank0
from .model import Arch, param_groups, set_frozen

log = logging.getLogger(__name__)

DEFAULT_LR = 2e-3  # fastai fine_tune's base_lr; the unfrozen stage uses half of it on the head
LR_MULT = 100  # earliest layers get lr / LR_MULT in the unfrozen stage


class TrainingInterrupted(GleansetError):
    """Ctrl-C during training; the last finished epoch's checkpoint is on disk."""

    exit_status = ExitStatus.INTERRUPTED


def epoch_line(row: dict[str, Any]) -> str:
    """The one-line summary of an epoch that training notes on its progress hook."""
    return (f"epoch {row['epoch']} ({row['stage']}): train loss {row['train_loss']:.4f}, val loss "
            f"{row['val_loss']:.4f}, val acc {row['val_accuracy']:.3f}, {row['images_per_s']:.0f} img/s")


def run_eta(elapsed: float, done: int, left: int) -> str:
    """``; run: about 1 min 20 s left (4 more epochs at most)``: the whole run's time left at the pace
    of the epochs done so far (early stopping may end it sooner); empty when no epoch is left."""
    if left <= 0 or done <= 0:
        return ""
    seconds = round(elapsed / done * left)
    minutes, secs = divmod(seconds, 60)
    when = f"{minutes} min {secs} s" if minutes else f"{secs} s"
    return f"; run: about {when} left ({left} more epoch{'s' if left != 1 else ''} at most)"


@dataclass(frozen=True)
class Stage:
    """One one-cycle stage: its name, epochs and max learning rate per parameter group."""

    name: str
    epochs: int
    frozen: bool
    base_lr: float


def plan(freeze_epochs: int, epochs: int, lr: float | None, pretrained: bool = True) -> list[Stage]:
    """``epochs`` in total: the first ``freeze_epochs`` frozen (only with pretrained weights)."""
    base = lr or DEFAULT_LR
    frozen = min(freeze_epochs, epochs) if pretrained else 0
    stages = [Stage("frozen", frozen, True, base), Stage("unfrozen", epochs - frozen, False, base / 2)]
    return [s for s in stages if s.epochs > 0]


def optimizer_for(model: nn.Module, arch: Arch, stage: Stage, steps: int
                  ) -> tuple[torch.optim.Optimizer, OneCycleLR]:
    """AdamW + one-cycle; unfrozen groups get geometrically spaced LRs from lr/LR_MULT to lr."""
    set_frozen(model, arch, stage.frozen)
    groups = param_groups(model, arch)
    if stage.frozen:
        groups = groups[-1:]
    n = len(groups)
    lrs = [stage.base_lr / LR_MULT ** ((n - 1 - i) / max(n - 1, 1)) for i in range(n)] if n > 1 \
        else [stage.base_lr]
    opt = torch.optim.AdamW([{"params": g, "lr": lr} for g, lr in zip(groups, lrs, strict=True)],
                            weight_decay=0.01)
    total = max(4, stage.epochs * steps)  # one-cycle needs a few steps to warm up and anneal
    sched = OneCycleLR(opt, max_lr=lrs, total_steps=total, pct_start=min(0.5, max(0.25, 2 / total)))
    return opt, sched


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """DDP around the model when a process group is running (rebuilt per stage, as trainable
    parameters change when the backbone is unfrozen)."""
    if rank_world()[1] == 1:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def train_one_epoch(model: nn.Module, loader: Any, opt: torch.optim.Optimizer, sched: OneCycleLR,
                    ctx: Context, progress: Progress) -> tuple[float, int]:
    """One pass over the train loader; returns (mean loss, images seen)."""
    model.train()
    total, seen = torch.zeros((), device=ctx.device), 0  # summed on the device: no sync per step
    for images, targets, _ in loader:
        x = to_input(images, ctx.pre, ctx.device, ctx.augment)
        y = targets.to(ctx.device, non_blocking=True)
        with ctx.autocast():
            loss = ctx.loss(model(x), y)
        opt.zero_grad(set_to_none=True)
        if ctx.scaler is not None:
            ctx.scaler.scale(loss).backward()
            ctx.scaler.step(opt)
            ctx.scaler.update()
        else:
            loss.backward()
            opt.step()
        sched.step()
        total += loss.detach().float() * len(y)
        seen += len(y)
        progress.advance()
    return float(total) / max(seen, 1), seen


@torch.inference_mode()
def validate(model: nn.Module, loader: Any, ctx: Context) -> tuple[float, float, torch.Tensor]:
    """Mean loss, accuracy and probabilities (in row order) over an evaluation loader; under a
    process group each rank evaluates its shard and every rank gets the whole result."""
    model.eval()
    total = torch.zeros((), device=ctx.device)
    correct = torch.zeros((), device=ctx.device)
    probs, rows = [], []
    for images, targets, index in loader:
        x = to_input(images, ctx.pre, ctx.device)
        y = targets.to(ctx.device, non_blocking=True)
        with ctx.autocast():
            logits = model(x)
        total += ctx.loss(logits, y).float() * len(y)
        p = probabilities(logits, ctx.binary)
        correct += (p.argmax(dim=1) == y).sum()
        probs.append(p.cpu())
        rows.append(torch.as_tensor(index))
    n_here = sum(len(p) for p in probs)
    loss_sum, right, n = all_sum(float(total), float(correct), n_here)
    local = torch.cat(probs) if probs else torch.zeros((0, 0))  # a rank may have no rows
    index = torch.cat(rows) if rows else torch.zeros(0, dtype=torch.long)
    return loss_sum / max(n, 1), right / max(n, 1), gather_rows(index, local, int(n))


@dataclass
class State:
    """Progress that a checkpoint keeps: finished epochs, history and the best weights so far."""

    epoch: int = 0
    best_loss: float = math.inf
    best_epoch: int = 0
    bad_epochs: int = 0
    stopped_early: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    best_state: dict[str, torch.Tensor] | None = None

    def observe(self, val_loss: float, model: nn.Module, patience: int) -> None:
        if val_loss < self.best_loss - 1e-6:
            self.best_loss, self.best_epoch, self.bad_epochs = val_loss, self.epoch, 0
            self.best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            self.bad_epochs += 1
            self.stopped_early = patience > 0 and self.bad_epochs >= patience


def save_checkpoint(path: Path, model: nn.Module, opt: torch.optim.Optimizer, sched: OneCycleLR,
                    stage: str, state: State, scaler: torch.amp.GradScaler | None) -> None:
    payload = {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
               "scaler": scaler.state_dict() if scaler else None, "stage": stage,
               "state": {k: v for k, v in vars(state).items() if k != "best_state"},
               "best_state": state.best_state}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


CHECKPOINT_KEYS = frozenset({"model", "optimizer", "scheduler", "scaler", "stage", "state", "best_state"})


def load_checkpoint(path: Path) -> dict[str, Any]:
    """``checkpoint.pt`` as :func:`save_checkpoint` wrote it, read with ``weights_only``: tensors,
    numbers, strings, lists and dicts only, so a crafted file in a shared run folder cannot run code
    (a pickled callable is refused). Anything else is an :class:`InputError` in one line."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, TypeError, AttributeError,
            ImportError, zipfile.BadZipFile) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: refused, not a checkpoint this trainer writes ({reason[:200]}); "
                         f"delete it to start over") from None
    if not isinstance(payload, dict) or not payload.keys() >= CHECKPOINT_KEYS \
            or not isinstance(payload["state"], dict):
        raise InputError(f"{path}: refused, not a checkpoint this trainer writes (keys missing); "
                         f"delete it to start over")
    return payload


def stage_at(stages: list[Stage], epoch: int) -> tuple[Stage, int]:
    """The stage that 0-based global ``epoch`` falls in and the epoch's offset inside it."""
    for stage in stages:
        if epoch < stage.epochs:
            return stage, epoch
        epoch -= stage.epochs
    return stages[-1], stages[-1].epochs


@dataclass
class Fit:
    """Everything :func:`fit` needs besides the model."""

    arch: Arch
    ctx: Context
    loaders: dict[str, Any]
    stages: list[Stage]
    patience: int
    checkpoint: Path
    progress: Progress = field(default_factory=NoProgress)  # a transient bar per epoch, a note after it
    on_epoch: Any = None  # callable(state) after each epoch, rank 0 (writes history.csv)
    compile: bool = False  # torch.compile the training model (CUDA graphs on CUDA)


def fit(model: nn.Module, job: Fit, resume: dict[str, Any] | None = None) -> State:
    """Run the stages; returns the final state with the best weights loaded into ``model``."""
    state = State()
    if resume:
        model.load_state_dict(resume["model"])
        state = State(**resume["state"], best_state=resume["best_state"])
    total = sum(s.epochs for s in job.stages)
    steps = len(job.loaders["train"])
    main = rank_world()[0] == 0
    if main:  # the whole run's bar: its time-remaining column is the run's ETA
        job.progress.total(total, "training (epochs)")
        job.progress.advance(state.epoch)
    started, first = time.perf_counter(), state.epoch
    try:
        while state.epoch < total and not state.stopped_early:
            stage, offset = stage_at(job.stages, state.epoch)
            opt, sched = optimizer_for(model, job.arch, stage, steps)
            if resume and resume["stage"] == stage.name and offset > 0:
                opt.load_state_dict(resume["optimizer"])
                sched.load_state_dict(resume["scheduler"])
                if job.ctx.scaler and resume.get("scaler"):
                    job.ctx.scaler.load_state_dict(resume["scaler"])
            resume = None
            net = compiled(wrap(model, job.ctx.device), job.compile, job.ctx.device)
            for _ in range(offset, stage.epochs):
                _epoch(model, net, job, stage, opt, sched, state, total)
                if main:
                    job.progress.advance()
                    job.progress.note(epoch_line(state.history[-1]) + run_eta(
                        time.perf_counter() - started, state.epoch - first, total - state.epoch))
                    save_checkpoint(job.checkpoint, model, opt, sched, stage.name, state, job.ctx.scaler)
                if state.stopped_early:
                    _announce_stop(job, state, total)
                    break
    except KeyboardInterrupt:
        raise TrainingInterrupted(
            f"interrupted after epoch {state.epoch} of {total}; checkpoint {job.checkpoint}: run the "
            f"same command with --resume to continue") from None
    if state.best_state is not None:
        model.load_state_dict(state.best_state)
    return state


def compiled(net: nn.Module, enabled: bool, device: torch.device) -> nn.Module:
    """``torch.compile`` the training model when asked: ``max-autotune`` (CUDA graphs, static shapes)
    on CUDA, the default mode elsewhere."""
    if not enabled:
        return net
    return torch.compile(net, mode="max-autotune" if device.type == "cuda" else None)


def _announce_stop(job: Fit, state: State, total: int) -> None:
    message = (f"early stop after epoch {state.epoch} of {total}: val loss has not improved for "
               f"{job.patience} epochs; keeping the weights of epoch {state.best_epoch} "
               f"(val loss {state.best_loss:.4f})")
    log.info(message)
    if rank_world()[0] == 0:
        job.progress.note(message)


def _epoch(model: nn.Module, net: nn.Module, job: Fit, stage: Stage, opt: torch.optim.Optimizer,
           sched: OneCycleLR, state: State, total: int) -> None:
    sampler = getattr(job.loaders["train"], "sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(state.epoch)
    bar = job.progress.task(f"epoch {state.epoch + 1}/{total}", len(job.loaders["train"]), transient=True)
    start = time.perf_counter()
    train_loss, seen = train_one_epoch(net, job.loaders["train"], opt, sched, job.ctx, bar)
    bar.done()
    seconds = time.perf_counter() - start
    sync_from_rank0(model)
    val_loss, val_acc, _ = validate(model, job.loaders["val"], job.ctx)
    state.epoch += 1
    state.observe(val_loss, model, job.patience)
    row = {"epoch": state.epoch, "stage": stage.name, "train_loss": round(train_loss, 5),
           "val_loss": round(val_loss, 5), "val_accuracy": round(val_acc, 4),
           "lr": f"{max(g['lr'] for g in opt.param_groups):.3g}",
           "images_per_s": round(seen / max(seconds, 1e-9), 1), "seconds": round(seconds, 2)}
    state.history.append(row)
    if rank_world()[0] == 0 and job.on_epoch:
        job.on_epoch(state)
