"""From a manifest to data loaders: usable rows, class names, the decode cache, samplers and batches.

``load_table`` reads a manifest and keeps ``status=ok`` rows that have a label, a ``split`` and an image
file (missing files are counted skips); a manifest with no splits is an error that says to run
``curate split``. ``load_image`` decodes one image at reduced size through the one image opener
(:func:`manifests.images.decode`: JPEG draft mode, EXIF orientation, named failures), resizes its shorter
side and centre-crops a square, so a 1080p frame never reaches full resolution in memory; the split's
:class:`~train.cache.TensorCache` keeps that square so later epochs and runs skip decoding. Datasets
yield ``uint8`` CHW tensors; :func:`to_input` augments and normalises a whole batch on the device.
Samplers are process-group aware: under ``torchrun`` each rank sees its own shard.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch.utils.data import Dataset, DistributedSampler, Sampler, WeightedRandomSampler
from torchvision.transforms import v2

import manifests
from manifests import InputError, images, schema

from .cache import TensorCache, cache_key
from .distributed import rank_world
from .model import Preprocess

log = logging.getLogger(__name__)

# Images per class under which training warns (docs/train.md): a model trained or judged on fewer
# means little. Only the splits that have rows are checked for test.
MIN_PER_CLASS = {"train": 10, "val": 5, "test": 5}


@dataclass(frozen=True)
class Table:
    """The usable rows of a manifest, by split, with the class names (sorted) and what was skipped."""

    root: Path
    rows: pd.DataFrame
    classes: tuple[str, ...]
    skipped: dict[str, int] = field(default_factory=dict)

    def split(self, name: str) -> pd.DataFrame:
        return self.rows[self.rows[schema.SPLIT] == name].reset_index(drop=True)

    def targets(self, frame: pd.DataFrame) -> np.ndarray:
        index = {c: i for i, c in enumerate(self.classes)}
        return frame[schema.LABEL].map(index).to_numpy(dtype=np.int64)


def load_table(manifest: Path, for_training: bool = True) -> Table:
    """Read a manifest and keep what training can use; raise a one-line error when it can't be used.

    ``for_training=False`` (evaluation) drops the checks that a train and a val split exist.
    """
    if not manifest.is_file():
        raise InputError(f"manifest {manifest} does not exist")
    frame = manifests.read(manifest)
    root = manifest.resolve().parent
    ok = frame[frame[schema.STATUS] == schema.OK]
    if ok.empty:
        raise InputError(f"{manifest} has no rows with status=ok")
    if ok[schema.SPLIT].isna().all():
        raise InputError(f"{manifest} has no split column (train/val/test): run `curate split "
                         f"{manifest}` first")
    skipped: dict[str, int] = {}
    splits = ok[schema.SPLIT].str.lower().map(schema.SPLIT_ALIASES)
    usable = ok.assign(**{schema.SPLIT: splits})
    for reason, bad in (("no split", usable[schema.SPLIT].isna()), ("no label", usable[schema.LABEL].isna())):
        if bad.any():
            skipped[reason] = int(bad.sum())
        usable = usable[~bad]
    exists = usable[schema.PATH].map(lambda p: isinstance(p, str) and (root / p).is_file())
    if (~exists).any():
        missing = usable.loc[~exists, schema.PATH].astype(str).tolist()
        skipped["missing file"] = len(missing)
        log.warning("skipping %d rows whose image file is missing (e.g. %s)", len(missing), missing[0])
    usable = usable[exists].reset_index(drop=True)
    classes = tuple(sorted(usable[schema.LABEL].unique()))
    if for_training:
        _check(manifest, usable, classes)
        few = few_per_class(usable, classes)
        if few:
            log.warning("few images: %s (docs/train.md: at least %d per class in train and %d in val "
                        "and test; below that the model and its accuracy mean little)", few,
                        MIN_PER_CLASS["train"], MIN_PER_CLASS["val"])
    return Table(root, usable, classes, skipped)


def few_per_class(rows: pd.DataFrame, classes: tuple[str, ...]) -> str:
    """The classes under :data:`MIN_PER_CLASS` in each split that has rows (``train: 'b' 2; val: 'b'
    1``), or ``""``."""
    parts = []
    for split, minimum in MIN_PER_CLASS.items():
        counts = rows[rows[schema.SPLIT] == split][schema.LABEL].value_counts()
        if counts.empty and split == "test":
            continue
        few = [f"{c!r} {counts.get(c, 0)}" for c in classes if counts.get(c, 0) < minimum]
        if few:
            parts.append(f"{split}: {', '.join(few)}")
    return "; ".join(parts)


def _check(manifest: Path, rows: pd.DataFrame, classes: tuple[str, ...]) -> None:
    if len(classes) < 2:
        raise InputError(f"{manifest} has {len(classes)} usable class(es); training needs at least 2")
    for split in ("train", "val"):
        if not (rows[schema.SPLIT] == split).any():
            raise InputError(f"{manifest} has no usable {split} rows: run `curate split {manifest}`")
    counts = rows[rows[schema.SPLIT] == "train"][schema.LABEL].value_counts()
    empty = [c for c in classes if counts.get(c, 0) == 0]
    if empty:
        raise InputError(f"class(es) {', '.join(empty)} have no usable train images "
                         f"(they appear only in val/test); fix the split or drop them")


def load_image(path: Path, pre: Preprocess) -> np.ndarray:
    """Decode an image into an RGB ``uint8`` array of ``pre.size`` x ``pre.size`` (HWC).

    Raises :class:`manifests.images.ImageError` (a named status) when the file cannot be decoded.
    """
    img = images.decode(path, min_side=pre.resize, mode="RGB").image
    w, h = img.size
    scale = pre.resize / min(w, h)
    nw, nh = max(pre.resize, round(w * scale)), max(pre.resize, round(h * scale))
    img = img.resize((nw, nh), Image.Resampling.BILINEAR, reducing_gap=3.0)
    left, top = (nw - pre.size) // 2, (nh - pre.size) // 2
    img = img.crop((left, top, left + pre.size, top + pre.size))
    return np.array(img, dtype=np.uint8)


def decode_pre(pre: Preprocess, size: int | None) -> Preprocess:
    """How images are decoded on their way to input of ``pre.size``: as squares of ``size`` (a cache of
    other squares, ``--cache-size``, resized per image by :func:`input_square`), or at the input size."""
    return Preprocess(size, cache_resize(pre, size)) if size and size != pre.size else pre


def input_square(arr: np.ndarray, pre: Preprocess) -> torch.Tensor:
    """A decoded HWC square as the model's ``uint8`` CHW input (resized, antialiased, when it was
    decoded or cached at another size)."""
    img = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1)
    if img.shape[-1] != pre.size:
        img = v2.functional.resize(img, [pre.size, pre.size], antialias=True)
    return img


class ManifestDataset(Dataset):
    """Rows of one split as ``(uint8 CHW image, target, row index)``, through the split's cache.

    Augmentation is not done here: :class:`~train.augment.DeviceAugment` works on whole batches on the
    device. A cache holding larger squares than the input (``--cache-size``) is resized per image;
    without a cache, ``decode_size`` decodes the same way (evaluation of a model trained so).
    """

    def __init__(self, table: Table, frame: pd.DataFrame, pre: Preprocess,
                 cache: TensorCache | None = None, decode_size: int | None = None) -> None:
        self.paths = [table.root / p for p in frame[schema.PATH]]
        self.targets = table.targets(frame)
        self.pre, self.cache = pre, cache
        self.cache_pre = decode_pre(pre, cache.size if cache else decode_size)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, int]:
        if self.cache is not None:
            arr = self.cache.get(i, lambda: load_image(self.paths[i], self.cache_pre))
        else:
            arr = load_image(self.paths[i], self.cache_pre)
        return input_square(arr, self.pre), int(self.targets[i]), i


def cache_resize(pre: Preprocess, size: int) -> int:
    """The shorter-side resize that goes with a cached square of ``size`` (same crop ratio)."""
    return round(size * pre.resize / pre.size)


def split_cache(folder: Path, table: Table, frame: pd.DataFrame, pre: Preprocess,
                size: int | None = None) -> TensorCache:
    """The :class:`TensorCache` of one split's rows (squares of ``size``, default the input size)."""
    size = size or pre.size
    keys = [cache_key(s, table.root / p) for s, p in zip(frame[schema.SHA256], frame[schema.PATH],
                                                         strict=True)]
    return TensorCache(folder, keys, size, cache_resize(pre, size))


def class_weights(table: Table, frame: pd.DataFrame) -> np.ndarray:
    """Per-row sampling weights: the manifest's ``weight`` column, else inverse class frequency."""
    weights = frame[schema.WEIGHT]
    if weights.notna().all() and (weights > 0).any():
        return weights.to_numpy(dtype=np.float64)
    targets = table.targets(frame)
    counts = np.bincount(targets, minlength=len(table.classes)).astype(np.float64)
    return 1.0 / counts[targets]


class ShardedWeightedSampler(Sampler[int]):
    """Weighted sampling with replacement, each rank drawing its own share with its own seed."""

    def __init__(self, weights: np.ndarray, seed: int) -> None:
        self.rank, self.world = rank_world()
        self.weights = torch.as_tensor(weights, dtype=torch.double)
        self.num_samples = -(-len(weights) // self.world)
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        gen = torch.Generator().manual_seed(self.seed + 7919 * self.epoch + self.rank)
        return iter(torch.multinomial(self.weights, self.num_samples, True, generator=gen).tolist())

    def __len__(self) -> int:
        return self.num_samples


def train_sampler(table: Table, frame: pd.DataFrame, balanced: bool, seed: int) -> Sampler[int] | None:
    """The train split's sampler: weighted when balanced, sharded under a process group, else None."""
    _, world = rank_world()
    if balanced:
        weights = class_weights(table, frame)
        if world == 1:
            gen = torch.Generator().manual_seed(seed)
            return WeightedRandomSampler(weights.tolist(), len(weights), replacement=True, generator=gen)
        return ShardedWeightedSampler(weights, seed)
    if world > 1:
        return DistributedSampler(range(len(frame)), shuffle=True, seed=seed)
    return None


def to_input(images: torch.Tensor, pre: Preprocess, device: torch.device,
             augment: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """uint8 NCHW batch -> (augmented on the device) normalised float in channels_last memory format."""
    x = images.to(device, non_blocking=True).float().div_(255)
    if augment is not None:
        x = augment(x)
    mean, std = _norm(tuple(pre.mean), tuple(pre.std), device)
    return x.sub_(mean).div_(std).contiguous(memory_format=torch.channels_last)


@functools.lru_cache(maxsize=8)
def _norm(mean: tuple[float, ...], std: tuple[float, ...], device: torch.device
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalisation tensors on the device, made once rather than every batch."""
    return (torch.tensor(mean, device=device).view(1, 3, 1, 1),
            torch.tensor(std, device=device).view(1, 3, 1, 1))
