"""One training run from a manifest to ``runs/NAME/``: options, set-up, the loop and every output.

``train(manifest, TrainOptions(...))`` is what ``train run`` calls. It writes ``config.json`` (resolved
options), ``history.csv`` and a ``checkpoint.pt`` after each epoch, then ``model.pt``, ``curves.png``,
``metrics.json``, ``confusion.png``, ``predictions.csv`` and ``review.html``. Only rank 0 writes.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torchvision

from manifests import UsageError
from manifests.progress import Progress, or_none

from . import explain, metrics
from .data import (
    AUGMENTS,
    DiskCache,
    ManifestDataset,
    Table,
    load_table,
    make_loader,
    rank_world,
    train_sampler,
)
from .device import pick_device
from .loop import (
    Fit,
    State,
    auto_batch_size,
    fit,
    init_distributed,
    load_checkpoint,
    make_context,
    plan,
    validate,
)
from .model import ModelInfo, Preprocess, build_model, get_arch, num_outputs, preprocess_for, save_model

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainOptions:
    """Every option of ``train run``; ``None`` means auto. See ``train run --help``."""

    arch: str = "resnet50"
    weights: str = "imagenet"
    epochs: int = 10
    freeze_epochs: int = 1
    lr: float | None = None
    batch_size: int | None = None
    img_size: int | None = None
    binary: bool = False
    balanced: bool = False
    augment: str = "none"
    label_smoothing: float = 0.0
    amp: str = "auto"
    device: str = "auto"
    workers: int | None = None
    out: Path | None = None
    resume: bool = False
    early_stop: int = 5
    seed: int = 0
    cache_size: int | None = None
    cache_dir: Path | None = None
    review: int = 12


@dataclass
class RunResult:
    """Where a run wrote its outputs, and its headline numbers."""

    out: Path
    metrics: dict[str, Any]
    history: list[dict[str, Any]]
    skipped: dict[str, int] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def run_folder(manifest: Path, opts: TrainOptions) -> Path:
    """``--out`` or ``runs/<dataset>-<arch>-<time>``; refuse to overwrite a finished run."""
    if opts.out is None:
        if opts.resume:
            raise UsageError("--resume needs --out runs/NAME (the run to continue)")
        name = f"{manifest.resolve().parent.name}-{opts.arch}-{time.strftime('%Y%m%d-%H%M%S')}"
        return Path("runs") / name
    out = opts.out
    if opts.resume and not (out / "checkpoint.pt").is_file():
        raise UsageError(f"--resume: {out / 'checkpoint.pt'} does not exist")
    if not opts.resume and (out / "model.pt").exists():
        raise UsageError(f"{out} already holds a finished run; pass another --out")
    if not opts.resume and (out / "checkpoint.pt").exists():
        raise UsageError(f"{out} holds an unfinished run; add --resume to continue it or pick another --out")
    return out


def _check(opts: TrainOptions) -> None:
    get_arch(opts.arch)
    if opts.augment not in AUGMENTS:
        raise UsageError(f"unknown --augment {opts.augment!r}; choose {', '.join(AUGMENTS)}")
    if opts.epochs < 0 or opts.freeze_epochs < 0 or opts.epochs + opts.freeze_epochs == 0:
        raise UsageError("--epochs plus --freeze-epochs must be at least 1")


def _loaders(table: Table, pre: Preprocess, opts: TrainOptions, batch: int, device: torch.device,
             manifest: Path) -> dict[str, Any]:
    cache = None
    if opts.cache_size != 0:
        size = opts.cache_size or pre.size
        cache_pre = Preprocess(size, round(size * pre.resize / pre.size), pre.mean, pre.std)
        cache = DiskCache(opts.cache_dir or manifest.resolve().parent / ".cache" / "train", cache_pre)
    workers = opts.workers if opts.workers is not None else min(8, os.cpu_count() or 1)
    pin = device.type == "cuda"
    loaders = {}
    for split in ("train", "val", "test"):
        frame = table.split(split)
        if frame.empty:
            continue
        ds = ManifestDataset(table, frame, pre, cache, opts.augment if split == "train" else "none")
        if split == "train":
            sampler = train_sampler(table, frame, opts.balanced, opts.seed)
            loaders[split] = make_loader(ds, batch, workers, pin, sampler, shuffle=True, seed=opts.seed)
        else:
            loaders[split] = make_loader(ds, batch, workers, pin)
    return loaders


def train(manifest: Path, opts: TrainOptions, progress: Progress | None = None) -> RunResult:
    """Fine-tune ``opts.arch`` on the manifest's splits and write everything to the run folder.

    ``progress`` gets a transient bar per epoch and a note (one line) after each.
    """
    _check(opts)
    init_distributed()
    rank, _ = rank_world()
    seed_everything(opts.seed + rank)
    out = run_folder(manifest, opts)
    table = load_table(manifest)
    device = pick_device(opts.device)
    if device.type == "cuda" and rank_world()[1] > 1:
        device = torch.device("cuda", torch.cuda.current_device())
    pre = preprocess_for(get_arch(opts.arch), opts.weights, opts.img_size)
    outputs = num_outputs(len(table.classes), opts.binary)
    model = build_model(opts.arch, outputs, opts.weights, pre.size)
    model = model.to(device).to(memory_format=torch.channels_last)
    ctx = make_context(device, opts.amp, pre, opts.binary, opts.label_smoothing)
    n_train = len(table.split("train"))
    batch = opts.batch_size or auto_batch_size(model, ctx, n_train)
    loaders = _loaders(table, pre, opts, batch, device, manifest)
    config = _config(manifest, opts, table, pre, device, ctx.amp, batch)
    resume = load_checkpoint(out / "checkpoint.pt") if opts.resume else None
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(config, indent=2, default=str), encoding="utf-8")
    job = Fit(get_arch(opts.arch), ctx, loaders, plan(opts.freeze_epochs, opts.epochs, opts.lr),
              opts.early_stop, out / "checkpoint.pt", or_none(progress),
              on_epoch=lambda st: pd.DataFrame(st.history).to_csv(out / "history.csv", index=False))
    state = fit(model, job, resume)
    info = ModelInfo(opts.arch, table.classes, opts.binary, pre)
    result = RunResult(out, {}, state.history, table.skipped, config)
    if rank == 0:
        result.metrics = write_outputs(model, info, table, loaders, job, state, out, opts.review)
        (out / "checkpoint.pt").unlink(missing_ok=True)  # finished: model.pt holds the best weights
    return result


def _config(manifest: Path, opts: TrainOptions, table: Table, pre: Preprocess, device: torch.device,
            amp: torch.dtype | None, batch: int) -> dict[str, Any]:
    counts = table.rows.groupby(["split", "label"]).size()
    return {**asdict(opts), "manifest": str(manifest.resolve()), "device": str(device),
            "amp": str(amp).replace("torch.", "") if amp else "off", "batch_size": batch,
            "lr": opts.lr or "auto", "preprocess": pre.to_dict(), "classes": list(table.classes),
            "rows": {f"{s}/{lab}": int(n) for (s, lab), n in counts.items()}, "skipped": table.skipped,
            "world_size": rank_world()[1], "torch": torch.__version__,
            "torchvision": torchvision.__version__}


def write_outputs(model: torch.nn.Module, info: ModelInfo, table: Table, loaders: dict[str, Any],
                  job: Fit, state: State, out: Path, review_k: int) -> dict[str, Any]:
    """model.pt, curves, metrics per evaluated split, confusion matrix, predictions and review."""
    save_model(out / "model.pt", model, info)
    history = pd.DataFrame(state.history)
    history.to_csv(out / "history.csv", index=False)
    metrics.plot_curves(history, out / "curves.png")
    result: dict[str, Any] = {"best_epoch": state.best_epoch, "best_val_loss": round(state.best_loss, 5),
                              "stopped_early": state.stopped_early, "skipped": table.skipped}
    frames = []
    for split in ("val", "test"):
        if split not in loaders:
            continue
        _, _, probs = validate(model, loaders[split], job.ctx)
        rows = table.split(split)
        result[split] = metrics.evaluate(rows, probs.numpy(), info.classes)
        frames.append(metrics.predictions_frame(rows, probs.numpy(), info.classes))
    primary = "test" if "test" in result else "val"
    result["primary"] = primary
    (out / "metrics.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    metrics.plot_confusion(result[primary]["confusion"], info.classes, out / "confusion.png", primary)
    predictions = pd.concat(frames, ignore_index=True)
    predictions.to_csv(out / "predictions.csv", index=False)
    shown = predictions[predictions["split"] == primary]
    explain.review(model, job.arch, info, shown, table.root, out / "review.html", review_k, job.ctx.device)
    return result

