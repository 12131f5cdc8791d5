"""The compiled loop of keeper-centred clustering (see :mod:`curate.clusters`), with numba.

Kept apart so that importing :mod:`curate.clusters` does not import numba. Cached on disk.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def greedy_keepers(keep_order, primary, adj_ptr, adj, member_ptr, members, n_nodes
                   ):  # pragma: no cover - compiled
    """Row -> keeper row. Rows are taken in ``keep_order``; an unclustered row becomes a keeper and
    takes every unclustered row attached to its primary node or to a node adjacent to it.

    A node, once visited, has no unclustered rows left, so each node's rows are scanned once and the
    whole run is linear in rows plus pairs.
    """
    n = keep_order.size
    label = np.full(n, -1, dtype=np.int64)
    visited = np.zeros(n_nodes, dtype=np.bool_)
    for t in range(n):
        r = keep_order[t]
        if label[r] >= 0:
            continue
        label[r] = r
        u = primary[r]
        for e in range(adj_ptr[u] - 1, adj_ptr[u + 1]):
            v = u if e < adj_ptr[u] else adj[e]
            if visited[v]:
                continue
            visited[v] = True
            for m in range(member_ptr[v], member_ptr[v + 1]):
                row = members[m]
                if label[row] < 0:
                    label[row] = r
    return label
