"""The constrained partition solver behind ``curate split``: whole items into splits, by class ratio.

An *item* is a set of rows that must land in one split (a street, a scene, a near-duplicate cluster,
or all of them joined). ``partition`` assigns each item to a split so that, for every class, the share
of that class's rows in each split is as close as the items allow to the wanted ratios. Some items
can be fixed in advance (pinned groups, a split kept from an earlier run).

The objective is the sum over splits and classes of the squared *relative* deviation
``((rows[s, c] - ratio[s] * total[c]) / total[c]) ** 2``, so a class of 30 rows matters as much as a
class of 30,000. (Minimising only the worst class instead would spread a skew that the groups make
inevitable, one street holding most Bossbots, onto every other class.) It is NP-hard to minimise
exactly (it contains number partitioning), so the solver does what works well in practice, with
several seeded restarts:

1. greedy: items largest first (the order perturbed on restarts), each to the split where it lowers
   the objective most; single-row items are placed in bulk per class by exact water-filling;
2. local search: the best single-item move, then the best swap of two items between two splits
   (drawn from a seeded sample), repeated until neither improves the objective.

The best restart wins; the same inputs and seed always give the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EPS = 1e-12


@dataclass(frozen=True)
class PartitionOptions:
    """Search effort: ``restarts`` seeded greedy starts, each refined by up to ``max_steps`` moves/swaps."""

    seed: int = 0
    restarts: int = 8
    max_steps: int = 2000
    swap_sample: int = 256


def objective(counts: np.ndarray, assign: np.ndarray, ratios: np.ndarray) -> float:
    """The solver's objective for an assignment (lower is better)."""
    err, w = _errors(counts, assign, ratios)
    return float((err * err * w).sum())


def _errors(counts: np.ndarray, assign: np.ndarray, ratios: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    totals = counts.sum(axis=0).astype(float)
    achieved = np.zeros((len(ratios), counts.shape[1]))
    placed = assign >= 0
    np.add.at(achieved, assign[placed], counts[placed])
    w = 1.0 / np.maximum(totals, 1.0) ** 2
    return achieved - ratios[:, None] * totals[None, :], w


def partition(counts: np.ndarray, ratios: np.ndarray, fixed: np.ndarray | None = None,
              options: PartitionOptions = PartitionOptions()) -> np.ndarray:
    """Assign items to splits.

    Args:
        counts: ``(n_items, n_classes)`` rows of each class in each item.
        ratios: ``(n_splits,)`` wanted share of each split, summing to 1.
        fixed: ``(n_items,)`` split index an item must take, or -1 where the solver chooses.
        options: search effort and seed.

    Returns:
        ``(n_items,)`` split index of each item.

    Example::

        >>> partition(np.array([[5, 0], [0, 5], [3, 2], [1, 1]]), np.array([0.5, 0.5])).tolist()
        [0, 0, 1, 1]
    """
    counts = np.asarray(counts, dtype=float)
    ratios = np.asarray(ratios, dtype=float)
    fixed = np.full(len(counts), -1) if fixed is None else np.asarray(fixed, dtype=int)
    best, best_score = fixed.copy(), np.inf
    for restart in range(max(1, options.restarts)):
        rng = np.random.default_rng([options.seed, restart])
        assign = _greedy(counts, ratios, fixed, rng, jitter=0.0 if restart == 0 else 0.6)
        assign = _improve(counts, ratios, assign, fixed < 0, rng, options)
        score = objective(counts, assign, ratios)
        if score < best_score - EPS:
            best, best_score = assign, score
    return best


def _greedy(counts: np.ndarray, ratios: np.ndarray, fixed: np.ndarray, rng: np.random.Generator,
            jitter: float) -> np.ndarray:
    assign = fixed.copy()
    err, w = _errors(counts, assign, ratios)
    sizes = counts.sum(axis=1)
    free = np.flatnonzero(fixed < 0)
    single = free[sizes[free] <= 1]
    multi = free[sizes[free] > 1]
    key = sizes[multi] * np.exp(rng.normal(0.0, jitter, len(multi))) if jitter else sizes[multi]
    for i in multi[np.lexsort((multi, -key))]:
        v = counts[i]
        delta = (w * (2.0 * err * v + v * v)).sum(axis=1)
        s = int(np.argmin(delta))
        assign[i] = s
        err[s] += v
    _place_singles(counts, single, assign, err, rng)
    return assign


def _place_singles(counts: np.ndarray, single: np.ndarray, assign: np.ndarray, err: np.ndarray,
                   rng: np.random.Generator) -> None:
    """Single-row items of one class are interchangeable: share them out per class by water-filling."""
    if not len(single):
        return
    classes = counts[single].argmax(axis=1)
    empty = counts[single].sum(axis=1) == 0
    assign[single[empty]] = 0
    for c in np.unique(classes[~empty]):
        members = single[(classes == c) & ~empty]
        members = members[rng.permutation(len(members))]
        k = waterfill(-err[:, c], len(members))
        assign[members] = np.repeat(np.arange(len(k)), k)
        err[:, c] += k


def waterfill(deficit: np.ndarray, n: int) -> np.ndarray:
    """Integers ``k >= 0`` summing to ``n`` that minimise ``sum((deficit - k) ** 2)``."""
    d = np.asarray(deficit, dtype=float)
    top = np.sort(d)[::-1]
    lam = top[0] - n
    for m in range(1, len(d) + 1):
        lam = (top[:m].sum() - n) / m
        if m == len(d) or lam >= top[m]:
            break
    # below the level every deficit is in and lies above it (each step's level lies between the last
    # one and the deficit it adds), so the shares sum to n and their floors to at most n
    k = np.floor(np.maximum(0.0, d - lam)).astype(int)
    while k.sum() < n:  # at most len(d) rounds: the floors lost less than one unit each
        k[int(np.argmax(d - k))] += 1
    return k


def _improve(counts: np.ndarray, ratios: np.ndarray, assign: np.ndarray, movable: np.ndarray,
             rng: np.random.Generator, options: PartitionOptions) -> np.ndarray:
    assign = assign.copy()
    err, w = _errors(counts, assign, ratios)
    for _ in range(options.max_steps):
        if not (_best_move(counts, assign, err, w, movable)
                or _best_swap(counts, assign, err, w, movable, rng, options.swap_sample)):
            break
    return assign


def _best_move(counts: np.ndarray, assign: np.ndarray, err: np.ndarray, w: np.ndarray,
               movable: np.ndarray) -> bool:
    """Apply the single-item move that lowers the objective most; False when none does."""
    idx = np.flatnonzero(movable)
    if not len(idx):
        return False
    v = counts[idx]
    p = (v * w) @ err.T  # (items, splits): sum_c w v err[s]
    q = (v * v * w).sum(axis=1)
    cur = assign[idx]
    delta = 2.0 * (p - p[np.arange(len(idx)), cur][:, None]) + 2.0 * q[:, None]
    delta[np.arange(len(idx)), cur] = np.inf
    flat = int(np.argmin(delta))
    i, s = divmod(flat, delta.shape[1])
    if not delta[i, s] < -EPS:
        return False
    item = idx[i]
    err[assign[item]] -= counts[item]
    err[s] += counts[item]
    assign[item] = s
    return True


def _best_swap(counts: np.ndarray, assign: np.ndarray, err: np.ndarray, w: np.ndarray,
               movable: np.ndarray, rng: np.random.Generator, sample: int) -> bool:
    """Apply the best swap of two items between two splits (from a seeded sample); False if none helps."""
    best: tuple[float, int, int] = (-EPS, -1, -1)
    n_splits = err.shape[0]
    for s1 in range(n_splits):
        for s2 in range(s1 + 1, n_splits):
            a = _sample(np.flatnonzero(movable & (assign == s1)), sample, rng)
            b = _sample(np.flatnonzero(movable & (assign == s2)), sample, rng)
            if not len(a) or not len(b):
                continue
            va, vb = counts[a], counts[b]
            gap = w * (err[s2] - err[s1])
            lin = (va @ gap)[:, None] - (vb @ gap)[None, :]
            quad = (va * va * w).sum(1)[:, None] + (vb * vb * w).sum(1)[None, :] - 2.0 * (va * w) @ vb.T
            delta = 2.0 * lin + 2.0 * quad
            i, j = np.unravel_index(int(np.argmin(delta)), delta.shape)
            if delta[i, j] < best[0]:
                best = (float(delta[i, j]), int(a[i]), int(b[j]))
    _, i, j = best
    if i < 0:
        return False
    si, sj = assign[i], assign[j]
    diff = counts[i] - counts[j]
    err[si] -= diff
    err[sj] += diff
    assign[i], assign[j] = sj, si
    return True


def _sample(idx: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    return idx if len(idx) <= size else np.sort(rng.choice(idx, size, replace=False))
