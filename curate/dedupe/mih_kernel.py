"""The compiled inner loop of multi-index hashing (see :mod:`curate.index`), with numba.

Kept apart so that importing :mod:`curate.index` (and every ``curate`` command) does not import numba;
:func:`curate.index.mih_pairs` imports this module on first use. Compiled functions are cached on disk.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _grow(arr: np.ndarray, size: int) -> np.ndarray:  # pragma: no cover - compiled
    out = np.empty(max(size, 2 * len(arr)), dtype=arr.dtype)
    out[: len(arr)] = arr
    return out


@numba.njit(cache=True, nogil=True)
def pairs_in_chunk(words, keys, chunk, order, offsets, present, masks, radius, threshold,
                   part, parts):  # pragma: no cover - compiled
    """Pairs found by one chunk, over the buckets ``present[part::parts]``.

    ``words`` are the hashes in bucket order (``order`` maps positions back to rows), so the members
    of a bucket are contiguous in memory.
    """
    out_i = np.empty(1024, dtype=np.int64)
    out_j = np.empty(1024, dtype=np.int64)
    count = 0
    nwords = words.shape[1]
    for p in range(part, len(present), parts):
        a = present[p]
        for mask in masks:
            b = a ^ mask
            if b < a or b >= len(offsets) - 1:
                continue
            for x in range(offsets[a], offsets[a + 1]):
                start = offsets[b] if b != a else x + 1
                for y in range(start, offsets[b + 1]):
                    dist = 0
                    for w in range(nwords):
                        dist += _popcount(words[x, w] ^ words[y, w])
                    if dist > threshold:
                        continue
                    i, j = order[x], order[y]
                    earlier = False
                    for c in range(chunk):
                        if _popcount(np.uint64(keys[c, i] ^ keys[c, j])) <= radius:
                            earlier = True
                            break
                    if earlier:
                        continue
                    if count == len(out_i):
                        out_i = _grow(out_i, count + 1)
                        out_j = _grow(out_j, count + 1)
                    out_i[count] = min(i, j)
                    out_j[count] = max(i, j)
                    count += 1
    return out_i[:count], out_j[:count]


@numba.njit(cache=True, nogil=True, inline="always")
def _popcount(x):  # pragma: no cover - compiled
    x = np.uint64(x)
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return int((x * np.uint64(0x0101010101010101)) >> np.uint64(56))
