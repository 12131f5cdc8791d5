"""The near-pair search the curate stages call: one function over the engines and the hash blocks.

:func:`near_pairs` gives every pair of bit-packed hashes within a Hamming distance, with a registered
engine of :mod:`curate.dedupe.index` on this machine, or cut into hash blocks on a Dask executor
(:mod:`curate.dedupe.blocks`): the same pairs either way. ``curate dedupe`` and ``curate check`` use it.
"""

from __future__ import annotations

import numpy as np

from manifests.executor import ExecutorSpec

from . import blocks, index


def near_pairs(packed: np.ndarray, threshold: int, engine: str = "auto", workers: int = 1,
               executor: ExecutorSpec | None = None) -> index.Pairs:
    """All pairs of rows within ``threshold`` bits of each other, with the named engine; on a Dask
    ``executor`` the search is cut into hash blocks (:mod:`curate.dedupe.blocks`), with the same pairs."""
    index.check_engine(engine)
    packed = np.asarray(packed, dtype=np.uint8)
    if executor is not None and executor.distributed:
        return blocks.block_pairs(packed, int(threshold), engine, executor)
    return index.ENGINES[engine](packed, int(threshold), workers)
