"""``curate dedupe --method hash``: near-duplicates by perceptual hash (the default method).

Rows are joined to the node of their hash (and, with ``flip_invariant``, to the node of their mirror
image's hash); near pairs of nodes come from :func:`curate.dedupe.search.near_pairs`. Thousands of
identical frames therefore cost one node, not millions of pairs. Only rows that lack a hash (or hold
one of another size) are hashed (:func:`curate.dedupe.hashing.compute_hashes`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from manifests import schema
from manifests.progress import Progress

from . import clusters, hashing, index, search
from .method import Found, Graph, Method

if TYPE_CHECKING:
    from .options import DedupeOptions

log = logging.getLogger(__name__)


class PerceptualHash(Method):
    """Hamming distance between perceptual hashes (phash, dhash, ahash, whash, colorhash)."""

    name = "hash"

    def find(self, frame: pd.DataFrame, root: Path, eligible: pd.Index, options: DedupeOptions,
             progress: Progress | None = None) -> Found:
        how = hashing.method(options.hash)
        outcome = hashing.compute_hashes(frame, root, eligible.to_numpy(), how, options.size,
                                         options.flip_invariant, options.workers, progress,
                                         options.executor)
        rows = eligible[frame.loc[eligible, schema.STATUS] == schema.OK]
        found = Found(rows, None, outcome)
        if len(rows) > 1:
            columns = [how.column, how.flip_column] if options.flip_invariant else [how.column]
            codes = [frame.loc[rows, c].to_numpy(dtype=object).astype(str) for c in columns]
            found.graph = _graph(codes, options, how.hex_length(options.size))
        warning = clusters.random_match_warning(options.bits, options.distance, len(rows))
        if warning:
            log.warning(warning)
            found.warnings.append(warning)
        return found


def _graph(codes: list[np.ndarray], options: DedupeOptions, length: int) -> Graph:
    """Rows on the nodes of their distinct hashes, the near node pairs, Hamming distance to a keeper."""
    stacked = np.concatenate(codes)
    uniq, inverse = np.unique(stacked, return_inverse=True)
    node_of = inverse.reshape(len(codes), len(codes[0])).astype(np.int64)
    bits = hashing.hex_to_bits(uniq.tolist(), length)
    pi, pj = search.near_pairs(bits, options.distance, options.engine, options.workers,
                               executor=options.executor)
    words = index.to_words(bits)

    def hamming_to_keeper(pos: np.ndarray, keep_pos: np.ndarray) -> np.ndarray:
        ref = words[node_of[0, keep_pos]]
        return np.min([index.hamming(words[node_of[k, pos]], ref) for k in range(len(node_of))], axis=0)

    return Graph(node_of, len(uniq), pi, pj, hamming_to_keeper, f"{options.hash} distance")
