"""``curate dedupe --method embedding``: near-duplicates by cosine similarity of backbone features.

Perceptual hashes miss crops, rotations and recolourings; a network's features do not. The features
are the trainer's: ``train embed`` writes them to a file keyed by sha256 (:mod:`manifests.features`,
L2-normalised; ``weights`` may be a ``model.pt`` trained on the dataset), and this method reads that
file, running ``train embed`` (:mod:`curate.trainer`, a child process: curate never imports train)
only for images it does not hold yet. :func:`cosine_pairs` finds every pair at or above a cosine
similarity exactly, block by block with numpy (about ``n^2/2`` dot products: fine up to ~100,000
images on a CPU), and the clusters are keeper-centred as for hashes (:mod:`curate.dedupe.clusters`):
every member at least ``similarity`` to its keeper.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

import manifests
from manifests import features, schema
from manifests.progress import Progress, or_none

from ..trainer import run_train, train_argv
from .hashing import HashOutcome
from .method import Found, Graph, Method

if TYPE_CHECKING:
    from .options import DedupeOptions

log = logging.getLogger(__name__)

BLOCK_VALUES = 1 << 24  # similarities computed at once (64 MiB of float32)
# Where the features come from: (frame, root, rows, options) -> rows x dim, NaN rows for undecodable images.
Source = Callable[[pd.DataFrame, Path, pd.Index, "DedupeOptions"], np.ndarray]


def cosine_pairs(features: np.ndarray, similarity: float, progress: Progress | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """All pairs ``i < j`` of L2-normalised rows with cosine similarity >= ``similarity``, sorted;
    ``progress`` advances by rows compared."""
    feats = np.ascontiguousarray(features, dtype=np.float32)
    n = len(feats)
    out_i, out_j = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    rows = max(1, BLOCK_VALUES // max(n, 1))
    progress = or_none(progress)
    progress.total(n, "comparing features")
    for start in range(0, n, rows):
        progress.advance(min(rows, n - start))
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


def trained_features(frame: pd.DataFrame, root: Path, rows: pd.Index, options: DedupeOptions
                     ) -> np.ndarray:
    """Features of ``rows`` (NaN where an image could not be decoded), from the features file of
    ``options``' backbone in ``root``; ``train embed`` first for the images the file lacks."""
    info = features.meta(options.arch, options.weights, options.img_size)
    path = features.default_path(root, info)
    keys = frame.loc[rows, schema.SHA256].astype(str).tolist()
    held = features.read(path) if path.is_file() else None
    if held is None or held.meta != info or not held.lookup(keys)[1].all():
        todo = path.with_name(f"{path.stem}.rows.csv")  # the rows to embed, as a manifest
        manifests.write(frame.loc[rows], todo)
        try:
            cmd = train_argv("embed", str(todo), "--root", str(root), "--output", str(path),
                             "--arch", options.arch, "--weights", options.weights, "--device", options.device)
            run_train(cmd + (["--img-size", str(options.img_size)] if options.img_size else []),
                      "train embed")
        finally:
            todo.unlink(missing_ok=True)
        held = features.read(path)
    return held.lookup(keys)[0]


def embed_rows(frame: pd.DataFrame, root: Path, rows: pd.Index, options: DedupeOptions,
               source: Source = trained_features) -> tuple[np.ndarray, np.ndarray]:
    """Features of ``rows`` and a mask of those that could be embedded (the others get a status)."""
    feats = source(frame, root, rows, options)
    good = ~np.isnan(feats).any(axis=1) if feats.size else np.zeros(len(rows), bool)
    bad = rows[~good]
    frame.loc[bad, schema.STATUS] = schema.UNREADABLE
    frame.loc[bad, schema.ERROR] = "cannot be decoded for embedding"
    return feats, good


class Embedding(Method):
    """Cosine similarity of the trainer's backbone features (catches crops, rotations, recolourings)."""

    name = "embedding"

    def __init__(self, source: Source = trained_features) -> None:
        self.source = source

    def find(self, frame: pd.DataFrame, root: Path, eligible: pd.Index, options: DedupeOptions,
             progress: Progress | None = None) -> Found:
        progress = or_none(progress)
        progress.note(f"embedding {len(eligible)} images with {options.arch} (weights {options.weights}): "
                      "train embed runs first for the images its features file lacks")
        feats, good = embed_rows(frame, root, eligible, options, self.source)
        rows, feats = eligible[good], feats[good]
        found = Found(rows, None, HashOutcome(hashed=int(good.sum()), failed=int((~good).sum()), reused=0))
        if options.untrained:
            found.warnings.append(options.UNTRAINED_WARNING)
        if len(rows) > 1:
            pi, pj = cosine_pairs(feats, options.similarity, progress)

            def similarity_to_keeper(pos: np.ndarray, keep_pos: np.ndarray) -> np.ndarray:
                return np.einsum("ij,ij->i", feats[pos], feats[keep_pos]).round(3)

            node_of = np.arange(len(rows), dtype=np.int64).reshape(1, -1)
            found.graph = Graph(node_of, len(rows), pi, pj, similarity_to_keeper, "cosine similarity")
        return found

    def summary(self, options: DedupeOptions) -> dict[str, Any]:
        return {"method": "embedding", "arch": options.arch, "weights": options.weights,
                "similarity": options.similarity, "threshold": None}
