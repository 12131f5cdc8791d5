"""One training run from a manifest to ``runs/NAME/``: options, set-up, the loop and every output.

``train(manifest, TrainOptions(...))`` is what ``train run`` calls. Options are checked before any
work. It writes ``config.json`` (the resolved options: the lr actually used, image size, batch size,
workers, cache size; ``options_from_config`` turns it back into options, so a run can be repeated),
``history.csv`` and a ``checkpoint.pt`` after each epoch, then the outputs of
:mod:`train.outputs`. ``--lr find`` runs the range test of :mod:`train.lr_find` first;
``--features-only`` trains the head on cached backbone features (:mod:`train.features`). Under
``torchrun`` every rank trains and evaluates its shard; only rank 0 writes.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
import types
import typing
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, get_type_hints

import numpy as np
import torch
import torchvision

from manifests import InputError, UsageError, schema
from manifests.progress import Progress, or_none

from . import features, lr_find
from .augment import KINDS as AUGMENTS
from .augment import DeviceAugment
from .cache import cache_key, warm_gpu
from .data import ManifestDataset, Table, cache_resize, load_table, split_cache, train_sampler
from .device import auto_batch_size, make_context, pick_device
from .distributed import (
    barrier,
    finish_distributed,
    from_rank0,
    init_distributed,
    is_main,
    rank_world,
    sync_from_rank0,
)
from .loaders import split_loader
from .logs import LOGGERS, EpochLog
from .loop import (
    DEFAULT_LR,
    Fit,
    State,
    fit,
    load_checkpoint,
    plan,
    validate,
)
from .model import ModelInfo, Preprocess, build_model, get_arch, load_model, num_outputs, preprocess_for
from .outputs import NEW, OUTPUTS_ONLY, RESUME, Evaluated, folder_mode, state_from_history, write_outputs

log = logging.getLogger(__name__)

FEATURES_LR = 1e-2  # --features-only trains a linear head alone: a higher default lr


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
    lr_find: bool = False
    lr_find_steps: int = 100  # batches of the range test (fastai's num_it)
    log: str = "csv"
    features_only: bool = False
    compile: bool = False
    gpu_decode: bool = True


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



def check_options(opts: TrainOptions) -> None:
    """Every option that can be checked without reading anything: a one-line usage error, before any
    folder is created or any image decoded."""
    get_arch(opts.arch)
    positive = {"--img-size": opts.img_size, "--batch-size": opts.batch_size, "--lr": opts.lr}
    for name, value in positive.items():
        if value is not None and not value > 0:
            raise UsageError(f"{name} must be greater than 0 (or auto), not {value}")
    if opts.epochs < 1:
        raise UsageError(f"--epochs must be at least 1, not {opts.epochs} (it counts every epoch, frozen "
                         f"ones included)")
    for name, value in (("--freeze-epochs", opts.freeze_epochs), ("--early-stop", opts.early_stop),
                        ("--workers", opts.workers), ("--cache-size", opts.cache_size),
                        ("--review", opts.review)):
        if value is not None and value < 0:
            raise UsageError(f"{name} must be 0 or more, not {value}")
    if not 0 <= opts.label_smoothing < 1:
        raise UsageError(f"--label-smoothing must be in [0, 1), not {opts.label_smoothing}")
    if opts.augment not in AUGMENTS:
        raise UsageError(f"unknown --augment {opts.augment!r}; choose {', '.join(AUGMENTS)}")
    if opts.log not in LOGGERS:
        raise UsageError(f"unknown --log {opts.log!r}; choose {' or '.join(LOGGERS)}")
    if opts.lr_find_steps < 5:
        raise UsageError(f"the LR range test needs at least 5 steps, not {opts.lr_find_steps}")
    if opts.lr_find and opts.lr is not None:
        raise UsageError("--lr takes a number or find, not both")
    if opts.out is None and opts.resume:
        raise UsageError("--resume needs --out runs/NAME (the run to continue)")


def run_folder(manifest: Path, opts: TrainOptions) -> tuple[Path, str]:
    """``--out`` or ``runs/<dataset>-<arch>-<time>``, and how to treat it (see :func:`folder_mode`)."""
    if opts.out is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = f"{manifest.resolve().parent.name}-{opts.arch.replace('/', '-')}-{stamp}"
        return Path("runs") / name, NEW
    return opts.out, folder_mode(opts.out, opts.resume)


def options_from_config(path: Path) -> tuple[Path, TrainOptions]:
    """The manifest and options a run's ``config.json`` records, to repeat it (``out`` left to choose)."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
        manifest = Path(config["manifest"])
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise InputError(f"cannot read a run config from {path}: {exc}") from None
    hints = get_type_hints(TrainOptions)
    known = {f.name for f in fields(TrainOptions)} - {"out", "resume", "lr_find"}
    kwargs = {k: v for k, v in config.items() if k in known}
    for name, value in kwargs.items():
        if not _fits(value, hints[name]):
            raise InputError(f"{path}: {name!r} is {value!r:.80}, not a {hints[name]}")
    if kwargs.get("cache_dir"):
        kwargs["cache_dir"] = Path(kwargs["cache_dir"])
    return manifest, TrainOptions(**kwargs)


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits an option's type (``int``, ``float``, ``str``, ``bool``, ``Path``, or
    ``X | None``); a bool is no number, an int is a float."""
    if isinstance(hint, types.UnionType):
        return any(_fits(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is Path:
        return isinstance(value, str)
    return isinstance(value, hint) if isinstance(hint, type) else True


@dataclass
class Job:
    """What the set-up resolved: folder, rows, device, model, context, loaders and cache keys."""

    out: Path
    mode: str
    table: Table
    pre: Preprocess
    model: torch.nn.Module
    ctx: Any
    batch: int
    workers: int
    cache_size: int
    cache_folder: Path
    loaders: dict[str, Any] = field(default_factory=dict)
    keys: dict[str, list[str]] = field(default_factory=dict)


def _loaders(job: Job, opts: TrainOptions, device: torch.device) -> None:
    pin = device.type == "cuda"
    for split in ("train", "val", "test"):
        frame = job.table.split(split)
        if frame.empty:
            continue
        job.keys[split] = [cache_key(s, job.table.root / p) for s, p in
                           zip(frame[schema.SHA256], frame[schema.PATH], strict=True)]
        cache = split_cache(job.cache_folder, job.table, frame, job.pre, job.cache_size) \
            if job.cache_size else None
        ds = ManifestDataset(job.table, frame, job.pre, cache)
        train = split == "train" and not opts.features_only
        sampler = train_sampler(job.table, frame, opts.balanced, opts.seed) if train else None
        job.loaders[split] = split_loader(ds, job.batch, job.workers, pin, train, sampler, opts.seed,
                                          static=opts.compile)
    if device.type == "cuda" and opts.gpu_decode and job.cache_size == job.pre.size:
        _warm(job, device)


def _warm(job: Job, device: torch.device) -> None:
    """First epoch on CUDA: decode the train split's JPEGs on the GPU in batches into the cache."""
    if int(os.environ.get("LOCAL_RANK", "0")) == 0:
        ds = job.loaders["train"].dataset
        filled = warm_gpu(ds.cache, ds.paths, cache_resize(job.pre, job.cache_size), device, job.batch)
        log.info("decoded %d train images on %s", filled, device)
    barrier()


def setup(manifest: Path, opts: TrainOptions) -> Job:
    """Resolve everything a run needs; nothing is written yet."""
    out, mode = run_folder(manifest, opts)
    table = load_table(manifest)
    device = pick_device(opts.device)
    if device.type == "cuda" and rank_world()[1] > 1:
        device = torch.device("cuda", torch.cuda.current_device())
    arch = get_arch(opts.arch)
    pre = preprocess_for(arch, opts.weights, opts.img_size)
    model = build_model(opts.arch, num_outputs(len(table.classes), opts.binary), opts.weights, pre.size)
    model = model.to(device).to(memory_format=torch.channels_last)
    ctx = make_context(device, opts.amp, pre, opts.binary, opts.label_smoothing)
    if opts.augment != "none" and not opts.features_only:
        ctx.augment = DeviceAugment(opts.augment, opts.seed + rank_world()[0])
    batch = opts.batch_size or auto_batch_size(model, ctx, len(table.split("train")))
    workers = opts.workers if opts.workers is not None else min(8, os.cpu_count() or 1)
    cache_size = pre.size if opts.cache_size is None else opts.cache_size
    folder = opts.cache_dir or manifest.resolve().parent / ".cache" / "train"
    job = Job(out, mode, table, pre, model, ctx, batch, workers, cache_size, folder)
    _loaders(job, opts, device)
    return job


def choose_lr(job: Job, opts: TrainOptions) -> tuple[float, dict[str, Any] | None]:
    """The lr to use: the number given, the range test's choice (kept on resume), or the default."""
    if not opts.lr_find:
        return opts.lr or (FEATURES_LR if opts.features_only else DEFAULT_LR), None
    previous = job.out / "config.json"
    if job.mode != NEW and previous.is_file():
        config = json.loads(previous.read_text(encoding="utf-8"))
        return float(config["lr"]), config.get("lr_find")
    arch = get_arch(opts.arch)
    frozen = opts.features_only or (opts.weights != "none" and opts.freeze_epochs > 0)
    finding = lr_find.lr_range_test(job.model, arch, job.loaders["train"], job.ctx, frozen,
                                    steps=opts.lr_find_steps)
    finding.suggestion = from_rank0(finding.suggestion)  # every rank uses rank 0's choice
    if is_main():
        job.out.mkdir(parents=True, exist_ok=True)
        lr_find.plot(finding, job.out / "lr_find.png")
    log.info("lr find: %.3g (range test over %d steps)", finding.suggestion, len(finding.lrs))
    return finding.suggestion, finding.to_dict()


def train(manifest: Path, opts: TrainOptions, progress: Progress | None = None) -> RunResult:
    """Fine-tune ``opts.arch`` on the manifest's splits and write everything to the run folder.

    ``progress`` gets a transient bar per epoch and a note (one line) after each.
    """
    check_options(opts)
    init_distributed()
    rank, world = rank_world()
    if opts.features_only and world > 1:
        raise UsageError("--features-only runs in one process; launch it without torchrun")
    seed_everything(opts.seed)  # the same initial weights on every rank
    progress = or_none(progress)
    progress.total(None, f"reading {manifest.name}, building {opts.arch}")
    job = setup(manifest, opts)
    if rank == 0:
        progress.note(start_line(job, opts))
    lr, finding = choose_lr(job, opts)
    config = _config(manifest, opts, job, lr, finding)
    if rank == 0:
        job.out.mkdir(parents=True, exist_ok=True)
        (job.out / "config.json").write_text(json.dumps(config, indent=2, default=str), encoding="utf-8")
    seed_everything(opts.seed + rank)
    state = _train(job, opts, lr, progress)
    sync_from_rank0(job.model)  # the best weights are rank 0's on every rank: outputs agree with model.pt
    splits = [s for s in ("val", "test") if s in job.loaders]
    evaluated = Evaluated({s: validate(job.model, job.loaders[s], job.ctx)[2].numpy() for s in splits},
                          {s: job.loaders[s].dataset for s in splits})
    info = ModelInfo(opts.arch, job.table.classes, opts.binary, job.pre, config["amp"], job.batch,
                     job.cache_size or None)
    result = RunResult(job.out, {}, state.history, job.table.skipped, config)
    if rank == 0:
        extra = {"lr": lr, "lr_find": finding} if finding else {"lr": lr}
        result.metrics = write_outputs(job.model, get_arch(opts.arch), info, job.table, evaluated, state,
                                       job.out, opts.review, job.ctx, extra)
        (job.out / "checkpoint.pt").unlink(missing_ok=True)  # finished: every output is written
    finish_distributed()
    return result


def start_line(job: Job, opts: TrainOptions) -> str:
    """What the run is about to do, said before its first epoch."""
    sizes = {s: len(job.table.split(s)) for s in ("train", "val", "test")}
    epochs = "head-only epochs" if opts.features_only else "epochs"
    return (f"training {opts.arch} on {sizes['train']} train / {sizes['val']} val / {sizes['test']} test "
            f"images of {len(job.table.classes)} classes: up to {opts.epochs} {epochs}, batch "
            f"{job.batch}, {job.pre.size} px, on {job.ctx.device}; run folder {job.out}")


def _train(job: Job, opts: TrainOptions, lr: float, progress: Progress) -> State:
    """Train (or, for a run killed after training, reload) and return the loop state."""
    arch = get_arch(opts.arch)
    epoch_log = EpochLog(job.out, opts.log) if is_main() else None
    try:
        if job.mode == OUTPUTS_ONLY:
            model, _ = load_model(job.out / "model.pt")
            job.model.load_state_dict(model.state_dict())
            return state_from_history(job.out)
        if opts.features_only:
            folder = job.cache_folder / "features" / (
                f"{opts.arch.replace('/', '-')}-{features.weights_tag(opts.weights, opts.seed)}-"
                f"{job.pre.size}-{job.pre.resize}")
            return features.features_only(
                job.model, arch, job.loaders, job.keys, {s: job.table.targets(job.table.split(s))
                                                         for s in job.keys}, folder, job.ctx,
                epochs=opts.epochs, lr=lr, batch=job.batch, patience=opts.early_stop,
                weights=_weights(job, opts), progress=progress, on_epoch=epoch_log, seed=opts.seed)
        stages = plan(opts.freeze_epochs, opts.epochs, lr, pretrained=opts.weights != "none")
        fit_job = Fit(arch, job.ctx, job.loaders, stages, opts.early_stop, job.out / "checkpoint.pt",
                      progress, on_epoch=epoch_log, compile=opts.compile)
        resume = load_checkpoint(job.out / "checkpoint.pt") if job.mode == RESUME else None
        return fit(job.model, fit_job, resume)
    finally:
        if epoch_log is not None:
            epoch_log.close()


def _weights(job: Job, opts: TrainOptions) -> np.ndarray | None:
    from .data import class_weights
    return class_weights(job.table, job.table.split("train")) if opts.balanced else None


def _config(manifest: Path, opts: TrainOptions, job: Job, lr: float, finding: dict | None
            ) -> dict[str, Any]:
    """config.json: the options as resolved (enough to repeat the run), and what the run saw."""
    counts = job.table.rows.groupby(["split", "label"]).size()
    amp = job.ctx.amp
    freeze = 0 if opts.weights == "none" or opts.features_only else min(opts.freeze_epochs, opts.epochs)
    resolved = replace(opts, lr=lr, img_size=job.pre.size, batch_size=job.batch, workers=job.workers,
                       cache_size=job.cache_size, cache_dir=job.cache_folder,
                       device=str(job.ctx.device), freeze_epochs=freeze,
                       amp={torch.bfloat16: "bf16", torch.float16: "fp16"}.get(amp, "off"), out=job.out)
    return {**asdict(resolved), "manifest": str(manifest.resolve()), "lr_find": finding,
            "preprocess": job.pre.to_dict(), "classes": list(job.table.classes),
            "rows": {f"{s}/{lab}": int(n) for (s, lab), n in counts.items()}, "skipped": job.table.skipped,
            "world_size": rank_world()[1], "torch": torch.__version__,
            "torchvision": torchvision.__version__}
