"""Near-duplicate search past one machine's memory: the exact pair search cut into hash blocks.

The ``n`` hashes are cut into ``B`` consecutive blocks. One task per block pair ``(a, b)`` with ``a <= b``
(``B (B + 1) / 2`` tasks) finds the pairs inside block ``a`` (when ``a == b``) or between the two blocks,
with the local engine (:mod:`curate.dedupe.index`: brute force or multi-index hashing), so every pair of the
whole set is found by exactly one task and the result is the same as the local search, pair for pair.

A cross task searches the two blocks stacked together and keeps only the pairs that straddle them; the
pairs inside each block are found again and dropped. That costs about twice the comparisons of a
dedicated cross search, and keeps one well-tested kernel.

Memory per worker is two blocks plus the engine's index over them (for 64-bit hashes about
``2 x rows x (8 + 8 m + 16)`` bytes with ``m`` chunks), whatever ``n`` is. The driver holds the packed
hashes (8 bytes each) and the pairs found. See BENCHMARKS.md for measured figures and the model for 100
million hashes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from manifests.executor import ExecutorSpec, run_partitions

from . import index

DEFAULT_BLOCK_ROWS = 2_000_000


@dataclass(frozen=True)
class _BlockTask:
    a_start: int
    a: np.ndarray
    b_start: int
    b: np.ndarray | None  # None: pairs inside block a
    threshold: int
    engine: str


def _search(task: _BlockTask) -> tuple[np.ndarray, np.ndarray]:
    if task.b is None:
        i, j = index.ENGINES[task.engine](task.a, task.threshold, 1)
        return i + task.a_start, j + task.a_start
    both = np.concatenate([task.a, task.b])
    i, j = index.ENGINES[task.engine](both, task.threshold, 1)
    cut = len(task.a)
    cross = (i < cut) & (j >= cut)
    return i[cross] + task.a_start, j[cross] - cut + task.b_start


def block_count(n: int, block_rows: int) -> int:
    return max(1, math.ceil(n / max(1, block_rows)))


def block_pairs(packed: np.ndarray, threshold: int, engine: str = "auto",
                executor: ExecutorSpec | None = None, block_rows: int | None = None) -> index.Pairs:
    """All pairs ``i < j`` within ``threshold``, searched block pair by block pair on ``executor``."""
    packed = np.ascontiguousarray(packed, dtype=np.uint8)
    n = len(packed)
    rows = block_rows or DEFAULT_BLOCK_ROWS
    starts = list(range(0, n, rows)) or [0]
    blocks = [(s, packed[s:s + rows]) for s in starts]
    tasks = [_BlockTask(sa, a, sb, None if ia == ib else b, threshold, engine)
             for ia, (sa, a) in enumerate(blocks) for ib, (sb, b) in enumerate(blocks) if ib >= ia]
    out_i, out_j = [], []
    for i, j in run_partitions(_search, tasks, executor or ExecutorSpec()):
        out_i.append(i)
        out_j.append(j)
    return index.sorted_pairs(out_i, out_j)
