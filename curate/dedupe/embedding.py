"""``curate dedupe --method embedding``: near-duplicates by cosine similarity of backbone features.

Perceptual hashes miss crops, rotations and recolourings; a network's features do not. The features
come from the trainer's backbone through its one documented public function,
``train.embed.embed(paths, arch, weights)`` (L2-normalised; ``weights`` may be a ``model.pt``
trained on the dataset). :func:`cosine_pairs` finds every pair at or above a cosine similarity
exactly, block by block with numpy (about ``n^2/2`` dot products: fine up to ~100,000 images on a
CPU), and the clusters are keeper-centred as for hashes (:mod:`curate.clusters`): every member at
least ``similarity`` to its keeper.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from manifests import UsageError, schema

from . import clusters as clustering
from .hashing import HashOutcome

log = logging.getLogger(__name__)

BLOCK_VALUES = 1 << 24  # similarities computed at once (64 MiB of float32)
Embedder = Callable[..., np.ndarray]


def cosine_pairs(features: np.ndarray, similarity: float) -> tuple[np.ndarray, np.ndarray]:
    """All pairs ``i < j`` of L2-normalised rows with cosine similarity >= ``similarity``, sorted."""
    feats = np.ascontiguousarray(features, dtype=np.float32)
    n = len(feats)
    out_i, out_j = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    rows = max(1, BLOCK_VALUES // max(n, 1))
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        sims = feats[start:stop] @ feats[start:].T
        ii, jj = np.nonzero(sims >= similarity)
        ii, jj = ii + start, jj + start
        keep = ii < jj
        out_i.append(ii[keep].astype(np.int64))
        out_j.append(jj[keep].astype(np.int64))
    i, j = np.concatenate(out_i), np.concatenate(out_j)
    order = np.lexsort((j, i))
    return i[order], j[order]


def default_embedder() -> Embedder:
    from train.embed import embed  # the trainer's public function, imported only when asked for

    return embed


def embed_rows(frame: pd.DataFrame, root: Path, rows: pd.Index, options: Any, embedder: Embedder
               ) -> tuple[np.ndarray, np.ndarray]:
    """Features of ``rows`` and a mask of those that could be embedded (the others get a status)."""
    paths = [str(root / p) for p in frame.loc[rows, schema.PATH]]
    feats = embedder(paths, arch=options.arch, weights=options.weights, img_size=options.img_size,
                     device=options.device)
    good = ~np.isnan(feats).any(axis=1) if feats.size else np.zeros(len(rows), bool)
    bad = rows[~good]
    frame.loc[bad, schema.STATUS] = schema.UNREADABLE
    frame.loc[bad, schema.ERROR] = "cannot be decoded for embedding"
    return feats, good


def dedupe_embedding(frame: pd.DataFrame, root: Path, options: Any, embedder: Embedder | None = None):
    """``curate dedupe`` with ``options.method == "embedding"``; returns a :class:`DedupeResult`."""
    from .stage import DedupeResult, _leaks, _reset, keeper_rank, mark, summarize

    if not 0 < options.similarity <= 1:
        raise UsageError(f"--similarity must be in (0, 1], not {options.similarity}")
    frame = frame.copy()
    eligible = frame.index[frame[schema.STATUS].isin([schema.OK, schema.DUPLICATE])
                           & frame[schema.PATH].notna()]
    rank = keeper_rank(frame, options.keep)
    _reset(frame, eligible)
    feats, good = embed_rows(frame, root, eligible, options, embedder or default_embedder())
    rows, feats = eligible[good], feats[good]
    clusters_: list[list[int]] = []
    distances: dict[int, Any] = {}
    leaks, leaking = pd.DataFrame(columns=["a", "b", "split_a", "split_b"]), 0
    if len(rows) > 1:
        pi, pj = cosine_pairs(feats, options.similarity)
        node_of = np.arange(len(rows), dtype=np.int64).reshape(1, -1)
        labels = clustering.cluster_rows(node_of, len(rows), pi, pj, rank.loc[rows].to_numpy(),
                                         options.clusters)

        def similarity_to_keeper(pos: np.ndarray, keep_pos: np.ndarray) -> np.ndarray:
            return np.einsum("ij,ij->i", feats[pos], feats[keep_pos]).round(3)

        clusters_, distances = mark(frame, rows, labels, rank, similarity_to_keeper, "cosine similarity",
                                    options.conflicts)
        leaks, leaking = _leaks(frame, rows, labels, node_of, pi, pj)
    outcome = HashOutcome(hashed=int(good.sum()), failed=int((~good).sum()), reused=0)
    result = DedupeResult(frame, clusters_, distances, leaks, leaking, outcome)
    result.summary = summarize(frame, rows, result, options)
    result.summary.update(method="embedding", arch=options.arch, weights=options.weights,
                          similarity=options.similarity, threshold=None)
    return result
