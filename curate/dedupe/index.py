"""Near-duplicate search: every pair of binary hashes within a Hamming distance, without all pairs.

Hashes are rows of a ``uint8`` bit-packed matrix (``n x nbytes``). Two search engines are registered
in :data:`ENGINES`; both return exactly the same pairs (``i < j``), sorted:

- ``brute``: vectorised numpy, block by block over all pairs. Exact and quick below a few thousand
  hashes, quadratic above.
- ``mih``: multi-index hashing (Norouzi et al.). The bit string is cut into ``m`` chunks; by the
  pigeonhole principle two hashes within distance ``r`` differ by at most ``r // m`` bits in at least
  one chunk. Hashes are bucketed by each chunk's value; for every bucket and every flip mask of up to
  ``r // m`` bits the neighbouring bucket is compared member by member (full distance) in a
  numba-compiled kernel. A pair is reported only by the first chunk that finds it, so there are no
  duplicates. ``m`` is chosen from a cost model (probes plus expected comparisons).

``auto`` picks ``brute`` for small inputs and ``mih`` otherwise. :func:`curate.dedupe.search.near_pairs`
is the facade the stages call: these engines on one machine, or the hash blocks of
:mod:`curate.dedupe.blocks` on a Dask executor.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import combinations

import numpy as np

from manifests import UsageError

log = logging.getLogger(__name__)

Pairs = tuple[np.ndarray, np.ndarray]
BRUTE_LIMIT = 4096
MAX_CHUNK_BITS = 22
_BLOCK = 1 << 22  # pairs compared at once by the brute-force engine


def to_words(packed: np.ndarray) -> np.ndarray:
    """Bit-packed ``uint8`` rows as ``uint64`` words (zero padded), for fast popcounts."""
    packed = np.ascontiguousarray(packed, dtype=np.uint8)
    n, nbytes = packed.shape
    width = -(-max(nbytes, 1) // 8) * 8
    padded = np.zeros((n, width), dtype=np.uint8)
    padded[:, :nbytes] = packed
    return padded.view(np.uint64)


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distances between rows of two equally shaped word matrices."""
    return np.bitwise_count(a ^ b).sum(axis=-1, dtype=np.int64)


def brute_pairs(packed: np.ndarray, threshold: int, workers: int = 1) -> Pairs:
    """All pairs ``i < j`` within ``threshold``, by blockwise comparison of every pair."""
    words = to_words(packed)
    n = len(words)
    out_i, out_j = [], []
    rows = max(1, _BLOCK // max(n, 1))
    for start in range(0, max(n - 1, 0), rows):
        stop = min(n, start + rows)
        dist = np.bitwise_count(words[start:stop, None, :] ^ words[None, :, :]).sum(axis=-1)
        ii, jj = np.nonzero(dist <= threshold)
        ii += start
        keep = ii < jj
        out_i.append(ii[keep])
        out_j.append(jj[keep])
    return sorted_pairs(out_i, out_j)


def sorted_pairs(out_i: list[np.ndarray], out_j: list[np.ndarray]) -> Pairs:
    """Pieces of pairs found apart (blocks, chunks, threads) as one pair list sorted by ``(i, j)``."""
    if not out_i:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    i = np.concatenate(out_i).astype(np.int64)
    j = np.concatenate(out_j).astype(np.int64)
    order = np.lexsort((j, i))
    return i[order], j[order]


def flip_masks(bits: int, radius: int) -> np.ndarray:
    """Every ``bits``-bit integer with at most ``radius`` bits set, 0 first."""
    masks = [0]
    for r in range(1, radius + 1):
        masks.extend(sum(1 << b for b in combo) for combo in combinations(range(bits), r))
    return np.array(masks, dtype=np.int64)


def choose_chunks(nbits: int, n: int, threshold: int) -> int:
    """The number of chunks with the least expected work (bucket probes plus comparisons)."""
    best, best_cost = 0, math.inf
    for m in range(1, nbits + 1):
        k = -(-nbits // m)
        if k > MAX_CHUNK_BITS:
            continue
        radius = threshold // m
        masks = sum(math.comb(k, r) for r in range(radius + 1))
        cost = m * (min(n, 2 ** k) * masks + n * n * masks / 2 ** k / 2)
        if cost < best_cost:
            best, best_cost = m, cost
    return best


def _chunk_keys(packed: np.ndarray, m: int) -> tuple[np.ndarray, int]:
    """The value of each of ``m`` chunks of every hash (``m x n`` int64) and the widest chunk's bits."""
    bits = np.unpackbits(packed, axis=1)
    edges = np.linspace(0, bits.shape[1], m + 1).round().astype(int)
    keys = np.empty((m, len(packed)), dtype=np.int64)
    for c in range(m):
        part = bits[:, edges[c]:edges[c + 1]].astype(np.int64)
        keys[c] = part @ (1 << np.arange(part.shape[1] - 1, -1, -1, dtype=np.int64))
    return keys, int(np.diff(edges).max())


def mih_pairs(packed: np.ndarray, threshold: int, workers: int = 1, chunks: int | None = None) -> Pairs:
    """All pairs ``i < j`` within ``threshold``, by multi-index hashing (see the module docstring)."""
    from . import mih_kernel  # numba: imported on first use, so other commands start fast

    packed = np.ascontiguousarray(packed, dtype=np.uint8)
    n, nbytes = packed.shape
    if n < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    words = to_words(packed)
    m = chunks or choose_chunks(nbytes * 8, n, threshold)
    keys, width = _chunk_keys(packed, m)
    radius = threshold // m
    masks = flip_masks(width, radius)
    log.debug("mih: %d hashes, %d chunks of <= %d bits, radius %d, %d masks", n, m, width, radius,
              len(masks))
    out_i, out_j = [], []
    parts = max(1, workers)
    with ThreadPoolExecutor(parts) as pool:
        for c in range(m):
            order = np.argsort(keys[c], kind="stable")
            counts = np.bincount(keys[c], minlength=1 << width)
            offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
            present = np.flatnonzero(counts).astype(np.int64)
            ordered = np.ascontiguousarray(words[order])
            jobs = [pool.submit(mih_kernel.pairs_in_chunk, ordered, keys, c, order, offsets, present,
                                masks, radius, threshold, p, parts) for p in range(parts)]
            for job in jobs:
                i, j = job.result()
                out_i.append(i)
                out_j.append(j)
    return sorted_pairs(out_i, out_j)


def auto_pairs(packed: np.ndarray, threshold: int, workers: int = 1) -> Pairs:
    """``brute`` below :data:`BRUTE_LIMIT` hashes, ``mih`` above."""
    engine = brute_pairs if len(packed) <= BRUTE_LIMIT else mih_pairs
    return engine(packed, threshold, workers)


ENGINES: dict[str, Callable[..., Pairs]] = {"auto": auto_pairs, "brute": brute_pairs, "mih": mih_pairs}


def check_engine(engine: str) -> None:
    """A UsageError naming the choices when ``engine`` is not registered."""
    if engine not in ENGINES:
        raise UsageError(f"unknown --index {engine!r} (choose from {', '.join(ENGINES)})")

