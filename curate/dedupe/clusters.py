"""Near-duplicate clusters from near pairs of hash nodes: keeper-centred (default) or connected components.

Rows are attached to *nodes* (distinct hash values; with ``--flip-invariant`` a row is attached to the
node of its hash and to the node of its mirror image's hash). :func:`keeper_clusters` builds clusters
greedily in keeper order: the best-ranked row not yet in a cluster becomes a keeper, and every row not
yet in a cluster whose hash (or mirrored hash) is within the threshold of the keeper's hash joins it.
So **every member is within the threshold of its keeper** (two members of one cluster can be up to
twice the threshold apart, never more), and a chain of pairs each within the threshold can no longer
join images that are far apart, as connected components did (:func:`component_clusters`, kept as an
option). Keeper-centred rather than complete-linkage: it is linear in rows plus pairs, the keeper
policy decides which image a cluster is about, and each duplicate is explained by its distance to one
named image.

:func:`random_match_rate` says how many unrelated (uniformly random) hash pairs a threshold lets
through, so a threshold too high for the hash size can be warned about.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

# The default threshold is this share of the hash's bits (10 of 64 for an 8x8 phash).
DEFAULT_SHARE = 10 / 64
METHODS = ("keeper", "components")


def default_threshold(bits: int) -> int:
    """The default Hamming threshold for a hash of ``bits`` bits: 10 per 64 bits."""
    return max(1, round(bits * DEFAULT_SHARE))


def random_match_rate(bits: int, threshold: int) -> float:
    """Probability that two independent uniformly random ``bits``-bit hashes are within ``threshold``:
    the binomial(``bits``, 1/2) CDF at ``threshold``, the share of the ``2**bits`` differences with at
    most ``threshold`` bits set, counted exactly in integers (scipy.stats, which every phash dedupe
    imported for this one number, costs 0.7 CPU s to import)."""
    return sum(math.comb(bits, k) for k in range(min(threshold, bits) + 1)) / 2**bits


def random_match_warning(bits: int, threshold: int, n: int) -> str | None:
    """A one-line warning when unrelated hashes would match: one random pair in 10,000 or more, or an
    expected random pair or more among ``n`` hashes."""
    rate = random_match_rate(bits, threshold)
    expected = rate * n * (n - 1) / 2
    if rate < 1e-4 and expected < 1:
        return None
    return (f"threshold {threshold} is high for {bits}-bit hashes: two unrelated random hashes match with "
            f"probability {rate:.2g} (about {expected:,.0f} chance pairs among {n:,} hashes); the default "
            f"for this size is {default_threshold(bits)}")


def _csr(rows: np.ndarray, cols: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    mat = csr_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(size, size))
    mat.sum_duplicates()
    return mat.indptr.astype(np.int64), mat.indices.astype(np.int64)


def keeper_clusters(node_of: np.ndarray, n_nodes: int, pi: np.ndarray, pj: np.ndarray,
                    rank: np.ndarray) -> np.ndarray:
    """Cluster id (the keeper's position) of each row, keeper-centred; see the module docstring.

    ``node_of`` is ``k x n`` (node of each row's hash, then of its mirrored hash), ``pi``/``pj`` the
    near node pairs, ``rank`` each row's keeper rank (lower is kept first).
    """
    from .cluster_kernel import greedy_keepers  # numba: imported on first use

    k, n = node_of.shape
    adj_ptr, adj = _csr(np.concatenate([pi, pj]), np.concatenate([pj, pi]), n_nodes)
    flat = node_of.ravel()
    order = np.argsort(flat, kind="stable")
    members = np.tile(np.arange(n, dtype=np.int64), k)[order]
    member_ptr = np.concatenate(([0], np.cumsum(np.bincount(flat, minlength=n_nodes)))).astype(np.int64)
    keep_order = np.argsort(rank, kind="stable").astype(np.int64)
    return greedy_keepers(keep_order, np.ascontiguousarray(node_of[0], dtype=np.int64), adj_ptr, adj,
                          member_ptr, members, n_nodes)


def component_clusters(node_of: np.ndarray, n_nodes: int, pi: np.ndarray, pj: np.ndarray) -> np.ndarray:
    """Component id of each row in the graph of rows, nodes and near pairs (chains join)."""
    k, n = node_of.shape
    src = np.concatenate([np.tile(np.arange(n), k), pi + n])
    dst = np.concatenate([node_of.ravel() + n, pj + n])
    size = n + n_nodes
    graph = coo_matrix((np.ones(len(src), np.int8), (src, dst)), shape=(size, size))
    _, labels = connected_components(graph, directed=False)
    return labels[:n]


def cluster_rows(node_of: np.ndarray, n_nodes: int, pi: np.ndarray, pj: np.ndarray, rank: np.ndarray,
                 method: str) -> np.ndarray:
    """Cluster ids of rows by ``method`` (``keeper`` or ``components``)."""
    if method == "components":
        return component_clusters(node_of, n_nodes, pi, pj)
    return keeper_clusters(node_of, n_nodes, pi, pj, rank)
