"""The batches a run trains, validates and predicts on: one code path for all of them.

:func:`split_loader` builds a split's :class:`Batches`: while the split's
:class:`~train.cache.TensorCache` has empty slots it iterates a ``DataLoader`` (workers decode and
fill the cache); once the cache is complete it reads whole batches from the memory map
(:class:`~train.cache.CachedBatches`). Training batches never hold a single image (BatchNorm cannot
train on one: a remainder of one is dropped, the sampler reshuffles next epoch); evaluation batches
keep every image. Under a process group the train split is sharded by the samplers in
:mod:`train.data` and evaluation by :class:`EvalShard` (rank ``r`` gets rows ``r, r + world, ...``:
no padding, no duplicates), whose results :func:`gather_rows` puts back in row order on every rank.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import BatchSampler, DataLoader, Sampler

from .cache import CachedBatches, TensorCache
from .distributed import rank_world

if TYPE_CHECKING:  # annotations only: importing train.loaders does not import torchvision
    from .data import ManifestDataset

log = logging.getLogger(__name__)


class EvalShard(Sampler[int]):
    """This rank's rows of an evaluation split: ``rank, rank + world, ...`` (all rows outside DDP)."""

    def __init__(self, n: int) -> None:
        self.rank, self.world = rank_world()
        self.n = n

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.n, self.world))

    def __len__(self) -> int:
        return len(range(self.rank, self.n, self.world))


class NoSingleBatches(BatchSampler):
    """Batches of a sampler, leaving out a last batch of one image (when it is not the only one)."""

    def __iter__(self) -> Iterator[list[int]]:
        if self.drop_last:
            yield from super().__iter__()
            return
        for i, batch in enumerate(super().__iter__()):
            if len(batch) == 1 and i > 0:
                return
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        if self.drop_last:
            return n // self.batch_size
        return n // self.batch_size + (n % self.batch_size > (1 if n > 1 else 0))


@dataclass
class Batches:
    """A split's batches ``(uint8 NCHW, targets, row indices)``: DataLoader until the cache is full."""

    dataset: ManifestDataset
    loader: DataLoader
    sampler: Any
    cached: CachedBatches | None = None

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        cache = self.dataset.cache
        if self.cached is not None and cache is not None and cache.size == self.dataset.pre.size \
                and cache.complete():
            return iter(self.cached)
        return iter(self.loader)


def split_loader(dataset: ManifestDataset, batch_size: int, workers: int, pin: bool, train: bool,
                 sampler: Sampler[int] | None = None, seed: int = 0, static: bool = False) -> Batches:
    """The :class:`Batches` of one split (``train``: shuffled or sampled, no 1-image batch; with
    ``static``, no incomplete batch at all: one shape for ``torch.compile``/CUDA graphs)."""
    if not train:
        sampler = EvalShard(len(dataset))
    elif sampler is None:
        sampler = torch.utils.data.RandomSampler(range(len(dataset)),
                                                 generator=torch.Generator().manual_seed(seed))
    static = static and len(sampler) >= batch_size
    batches = NoSingleBatches(sampler, batch_size, drop_last=static) if train \
        else BatchSampler(sampler, batch_size, drop_last=False)
    loader = DataLoader(dataset, batch_sampler=batches, num_workers=workers, pin_memory=pin,
                        persistent_workers=workers > 0, prefetch_factor=4 if workers > 0 else None)
    cached = None
    if isinstance(dataset.cache, TensorCache):
        cached = CachedBatches(dataset.cache, dataset.targets, batch_size, sampler, drop_one=train, pin=pin,
                               drop_last=train and static)
    return Batches(dataset, loader, sampler, cached)


def eval_batches(n: int, batch_size: int, rows: list[int] | None = None) -> list[list[int]]:
    """The row batches that evaluation of ``n`` rows runs, on every rank of the process group (rank
    ``r``: its :class:`EvalShard` in ``batch_size`` chunks); with ``rows``, only those holding one."""
    world = rank_world()[1]
    wanted = None if rows is None else set(rows)
    batches = []
    for rank in range(world):
        shard = list(range(rank, n, world))
        for start in range(0, len(shard), batch_size):
            batch = shard[start:start + batch_size]
            if wanted is None or wanted.intersection(batch):
                batches.append(batch)
    return batches


def rows_loader(dataset: ManifestDataset, rows: list[int], batch_size: int, pin: bool,
                whole: bool = False) -> DataLoader:
    """Batches ``(uint8 NCHW, targets, row indices)`` of the listed rows, read from the split's dataset
    (its decode cache: the pixels the model saw). ``whole``: the very batches evaluation ran that hold
    them (kernels on a GPU, and so results under autocast, depend on a batch's size and content);
    otherwise the rows alone, in their order, ``batch_size`` at a time."""
    batches = eval_batches(len(dataset), batch_size, rows) if whole else \
        [rows[i:i + batch_size] for i in range(0, len(rows), batch_size)]
    return DataLoader(dataset, batch_sampler=batches, num_workers=0, pin_memory=pin)


