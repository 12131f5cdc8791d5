"""``curate dedupe``: near-duplicate clusters by perceptual hash or embedding, a keeper per cluster.

The stage is :mod:`curate.dedupe.stage`; hashing, the pair search (:mod:`~curate.dedupe.index`,
:mod:`~curate.dedupe.blocks`), clustering and the numba kernels are the modules beside it.
"""

from .stage import DedupeOptions, DedupeResult, dedupe, delete_duplicate_files, keeper_rank

__all__ = ["DedupeOptions", "DedupeResult", "dedupe", "delete_duplicate_files", "keeper_rank"]
