"""``curate dedupe``: near-duplicate clusters from perceptual hashes, a keeper per cluster, leak checks.

:func:`dedupe` takes a manifest frame and returns it with every near-duplicate cluster marked: all
members get ``dup_cluster``, the keeper (chosen by a policy in :data:`KEEP_POLICIES`) stays ``ok`` and
the others become ``status=duplicate`` with ``dup_of`` naming the keeper's sha256. Rows earlier marked
duplicate are reconsidered, so running it again with other options gives the same result as running
it once. Files are never touched; :func:`delete_duplicate_files` exists for users who ask for it.

The search works on distinct hash values: rows are joined to the node of their hash (and, with
``flip_invariant``, to the node of their mirror image's hash), near pairs of nodes come from
:mod:`curate.index`, and clusters are keeper-centred (:mod:`curate.clusters`: every member within the
threshold of its keeper; connected components, which chain, only with ``clusters="components"``).
Thousands of identical frames therefore cost one node, not millions of pairs.

A member whose label differs from its keeper's is not marked duplicate by default: it stays ``ok``
with a ``dup_conflict`` note (``conflicts="mark"`` marks it anyway); such clusters are reported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from manifests import UsageError, schema
from manifests.executor import ExecutorSpec
from manifests.progress import Progress

from . import clusters as clustering
from . import hashing, index

log = logging.getLogger(__name__)

LEAK_GROUP_CAP = 200  # rows per (hash, split) listed as leak pairs; the cluster count stays exact


@dataclass(frozen=True)
class DedupeOptions:
    """How to find and resolve near-duplicates (the ``curate dedupe`` options)."""

    hash: str = "phash"
    hash_size: int | None = None
    threshold: int | None = None  # None: 10 per 64 bits of hash (clusters.default_threshold)
    keep: str = "largest"
    flip_invariant: bool = False
    workers: int = 1
    engine: str = "auto"
    clusters: str = "keeper"  # or "components" (chains join; the old behaviour)
    conflicts: str = "keep"  # members labelled unlike their keeper stay ok ("mark": duplicate anyway)
    method: str = "hash"  # or "embedding": cosine similarity of backbone features (curate.embedding)
    similarity: float = 0.95  # embedding: smallest cosine similarity of a duplicate to its keeper
    arch: str = "resnet18"  # embedding: the trainer's arch
    weights: str = "imagenet"  # embedding: imagenet, none, a state dict or a train model.pt
    img_size: int | None = None
    device: str = "auto"
    executor: ExecutorSpec | None = None  # hashing and the pair search on Dask (None: local processes)

    @property
    def size(self) -> int:
        return self.hash_size or hashing.method(self.hash).default_size

    @property
    def bits(self) -> int:
        return hashing.method(self.hash).bits(self.size)

    @property
    def distance(self) -> int:
        """The threshold in use: the given one or the default for the hash size."""
        return clustering.default_threshold(self.bits) if self.threshold is None else self.threshold


@dataclass
class DedupeResult:
    """The updated frame, the clusters (row labels, keeper first), leaks and a summary."""

    frame: pd.DataFrame
    clusters: list[list[int]]
    distances: dict[int, int]
    leak_pairs: pd.DataFrame
    leaking_clusters: int
    hashing: hashing.HashOutcome
    summary: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _largest(frame: pd.DataFrame) -> list[tuple[pd.Series, bool]]:
    area = frame[schema.WIDTH].astype("Float64") * frame[schema.HEIGHT].astype("Float64")
    return [(area, False), (frame[schema.BYTES].astype("Float64"), False),
            (frame[schema.HARVESTED_AT], True)]


def _first(frame: pd.DataFrame) -> list[tuple[pd.Series, bool]]:
    return [(frame[schema.HARVESTED_AT], True)]


def _score(frame: pd.DataFrame) -> list[tuple[pd.Series, bool]]:
    if schema.SCORE not in frame.columns:
        raise UsageError("--keep score needs a 'score' column in the manifest")
    return [(frame[schema.SCORE].astype("Float64"), False), *_largest(frame)]


# Each policy gives sort keys (series, ascending); the first row of a cluster in that order is kept.
CONFLICTS = ("keep", "mark")

KEEP_POLICIES: dict[str, Callable[[pd.DataFrame], list[tuple[pd.Series, bool]]]] = {
    "largest": _largest, "first": _first, "score": _score,
}


def keeper_rank(frame: pd.DataFrame, policy: str) -> pd.Series:
    """Each row's rank under a keep policy (0 is kept first); ties go to the earlier row."""
    if policy not in KEEP_POLICIES:
        raise UsageError(f"unknown --keep policy {policy!r} (choose from {', '.join(KEEP_POLICIES)})")
    keys = KEEP_POLICIES[policy](frame)
    table = pd.DataFrame({f"k{i}": s.to_numpy() for i, (s, _) in enumerate(keys)}, index=frame.index)
    table["row"] = np.arange(len(frame))
    ordered = table.sort_values([*table.columns[:-1], "row"], ascending=[a for _, a in keys] + [True],
                                na_position="last", kind="stable")
    return pd.Series(np.arange(len(ordered)), index=ordered.index).reindex(frame.index)


def _reset(frame: pd.DataFrame, rows: pd.Index) -> None:
    """Undo an earlier dedupe on these rows."""
    was_dup = rows[frame.loc[rows, schema.STATUS] == schema.DUPLICATE]
    frame.loc[was_dup, schema.STATUS] = schema.OK
    frame.loc[was_dup, schema.ERROR] = pd.NA
    frame.loc[rows, [schema.DUP_OF, schema.DUP_CLUSTER]] = pd.NA
    if schema.DUP_CONFLICT in frame.columns:
        frame.loc[rows, schema.DUP_CONFLICT] = pd.NA


def _graph(codes: list[np.ndarray], rank: np.ndarray, options: DedupeOptions, length: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Clusters of rows over hash nodes; returns labels, node ids per code set, unique hexes, pairs."""
    stacked = np.concatenate(codes)
    uniq, inverse = np.unique(stacked, return_inverse=True)
    node_of = inverse.reshape(len(codes), len(rank)).astype(np.int64)
    bits = hashing.hex_to_bits(uniq.tolist(), length)
    pi, pj = index.near_pairs(bits, options.distance, options.engine, options.workers,
                              executor=options.executor)
    labels = clustering.cluster_rows(node_of, len(uniq), pi, pj, rank, options.clusters)
    return labels, node_of, bits, pi, pj


def _check_options(options: DedupeOptions, how: hashing.HashMethod) -> None:
    index.check_engine(options.engine)  # before hashing: a bad engine fails fast
    if options.threshold is not None and options.threshold < 0:
        raise UsageError("--threshold must be >= 0")
    if not how.valid_size(options.size):
        raise UsageError(f"--hash-size for {how.name} must be {how.size_rule}, not {options.size}")
    if options.clusters not in clustering.METHODS:
        raise UsageError(f"unknown --clustering {options.clusters!r} (choose from "
                         f"{', '.join(clustering.METHODS)})")
    if options.method not in ("hash", "embedding"):
        raise UsageError(f"unknown --method {options.method!r} (choose from hash, embedding)")
    if options.conflicts not in CONFLICTS:
        raise UsageError(f"unknown --conflicts {options.conflicts!r} (choose from {', '.join(CONFLICTS)})")


def dedupe(frame: pd.DataFrame, root: Path, options: DedupeOptions,
           progress: Progress | None = None) -> DedupeResult:
    """Hash what lacks a hash, find near-duplicate clusters and mark them in a copy of ``frame``."""
    how = hashing.method(options.hash)
    _check_options(options, how)
    if options.method == "embedding":
        from .embedding import dedupe_embedding

        return dedupe_embedding(frame, root, options)
    frame = frame.copy()
    eligible = frame.index[frame[schema.STATUS].isin([schema.OK, schema.DUPLICATE])
                           & frame[schema.PATH].notna()]
    rank = keeper_rank(frame, options.keep)  # before hashing: a bad policy fails fast
    _reset(frame, eligible)
    outcome = hashing.compute_hashes(frame, root, eligible.to_numpy(), how, options.size,
                                     options.flip_invariant, options.workers, progress,
                                     options.executor)
    rows = eligible[frame.loc[eligible, schema.STATUS] == schema.OK]
    length = how.hex_length(options.size)
    columns = [how.column, how.flip_column] if options.flip_invariant else [how.column]
    codes = [frame.loc[rows, c].to_numpy(dtype=object).astype(str) for c in columns]
    clusters: list[list[int]] = []
    distances: dict[int, int] = {}
    leaks = pd.DataFrame(columns=["a", "b", "split_a", "split_b"])
    leaking = 0
    if len(rows) > 1:
        labels, node_of, bits, pi, pj = _graph(codes, rank.loc[rows].to_numpy(), options, length)
        words = index.to_words(bits)

        def hamming_to_keeper(pos: np.ndarray, keep_pos: np.ndarray) -> np.ndarray:
            ref = words[node_of[0, keep_pos]]
            return np.min([index.hamming(words[node_of[k, pos]], ref) for k in range(len(node_of))], axis=0)

        clusters, distances = mark(frame, rows, labels, rank, hamming_to_keeper,
                                   f"{options.hash} distance", options.conflicts)
        leaks, leaking = _leaks(frame, rows, labels, node_of, pi, pj)
    result = DedupeResult(frame, clusters, distances, leaks, leaking, outcome)
    warning = clustering.random_match_warning(options.bits, options.distance, len(rows))
    if warning:
        log.warning(warning)
        result.warnings.append(warning)
    result.summary = summarize(frame, rows, result, options)
    return result


def mark(frame: pd.DataFrame, rows: pd.Index, labels: np.ndarray, rank: pd.Series,
         distance: Callable[[np.ndarray, np.ndarray], np.ndarray], measure: str, conflicts: str
         ) -> tuple[list[list[int]], dict[int, Any]]:
    """Mark every cluster of two or more rows; returns clusters (keeper first) and distances to it.

    ``labels`` are cluster ids of ``rows``; ``distance(pos, keeper_pos)`` gives each member's distance
    to its keeper (positions in ``rows``), ``measure`` names it in the notes ("phash distance").
    """
    members = pd.DataFrame({"row": np.asarray(rows), "label": labels, "rank": rank.loc[rows].to_numpy(),
                            "pos": np.arange(len(rows))})
    members = members[members.groupby("label")["row"].transform("size") > 1]
    members = members.sort_values(["label", "rank"], kind="stable")
    if members.empty:
        return [], {}
    first = members.groupby("label", sort=False)
    keep_row = first["row"].transform("first").to_numpy()
    keep_pos = first["pos"].transform("first").to_numpy()
    dist = distance(members["pos"].to_numpy(), keep_pos)
    member_rows = members["row"].to_numpy()
    keep_sha = frame.loc[keep_row, schema.SHA256].to_numpy(dtype=object)
    frame.loc[member_rows, schema.DUP_CLUSTER] = [str(s)[:16] for s in keep_sha]
    other = member_rows != keep_row
    label = frame[schema.LABEL].astype("string").fillna("")
    conflict = other & (label.loc[member_rows].to_numpy() != label.loc[keep_row].to_numpy())
    if conflicts == "keep":
        _note_conflicts(frame, member_rows[conflict], keep_row[conflict], dist[conflict], measure)
        other &= ~conflict
    marked = member_rows[other]
    frame.loc[marked, schema.STATUS] = schema.DUPLICATE
    frame.loc[marked, schema.DUP_OF] = keep_sha[other]
    keep_paths = frame.loc[keep_row[other], schema.PATH].to_numpy(dtype=object)
    frame.loc[marked, schema.ERROR] = [f"near-duplicate of {p} ({measure} {d})"
                                       for p, d in zip(keep_paths, dist[other], strict=True)]
    clusters = [list(map(int, g)) for g in first["row"].agg(list)]
    return clusters, {int(r): d.item() for r, d in zip(member_rows[member_rows != keep_row],
                                                       dist[member_rows != keep_row], strict=True)}


def _note_conflicts(frame: pd.DataFrame, rows: np.ndarray, keepers: np.ndarray, dist: np.ndarray,
                    measure: str) -> None:
    """Members labelled unlike their keeper stay ok, with a note naming the keeper and its label."""
    if not len(rows):
        return
    if schema.DUP_CONFLICT not in frame.columns:
        frame[schema.DUP_CONFLICT] = pd.Series(pd.NA, index=frame.index, dtype="string")
    paths = frame.loc[keepers, schema.PATH].to_numpy(dtype=object)
    labels = frame.loc[keepers, schema.LABEL].to_numpy(dtype=object)
    frame.loc[rows, schema.DUP_CONFLICT] = [
        f"near-duplicate of {p} labelled {lab} ({measure} {d}); left ok"
        for p, lab, d in zip(paths, labels, dist, strict=True)]


def _leaks(frame: pd.DataFrame, rows: pd.Index, labels: np.ndarray, node_of: np.ndarray,
           pi: np.ndarray, pj: np.ndarray) -> tuple[pd.DataFrame, int]:
    """Near-duplicate row pairs in different splits, and the number of clusters spanning splits."""
    split = frame.loc[rows, schema.SPLIT].to_numpy(dtype=object)
    has = pd.notna(split)
    empty = pd.DataFrame(columns=["a", "b", "split_a", "split_b"])
    if not has.any():
        return empty, 0
    spans = pd.DataFrame({"c": labels[has], "s": split[has]}).groupby("c")["s"].nunique()
    leaking = int((spans > 1).sum())
    if not leaking:
        return empty, 0
    att = pd.DataFrame({"row": np.tile(np.asarray(rows), len(node_of)), "node": node_of.ravel(),
                        "split": np.tile(split, len(node_of))}).dropna(subset=["split"])
    att = att.groupby(["node", "split"]).head(LEAK_GROUP_CAP)
    nodes = np.unique(att["node"])
    edges = pd.DataFrame({"u": np.concatenate([nodes, pi]), "v": np.concatenate([nodes, pj])})
    left = edges.merge(att.rename(columns={"node": "u", "row": "a", "split": "split_a"}), on="u")
    both = left.merge(att.rename(columns={"node": "v", "row": "b", "split": "split_b"}), on="v")
    both = both[(both["split_a"] != both["split_b"]) & (both["a"] != both["b"])]
    lo, hi = np.minimum(both["a"], both["b"]), np.maximum(both["a"], both["b"])
    swap = both["a"] > both["b"]
    pairs = pd.DataFrame({"a": lo, "b": hi,
                          "split_a": np.where(swap, both["split_b"], both["split_a"]),
                          "split_b": np.where(swap, both["split_a"], both["split_b"])})
    return pairs.drop_duplicates(["a", "b"]).sort_values(["a", "b"]).reset_index(drop=True), leaking


def _by(frame: pd.DataFrame, rows: pd.Index, column: str) -> dict[str, dict[str, int]]:
    if column not in frame.columns:
        return {}
    part = frame.loc[rows]
    key = part[column].astype("string").fillna("(missing)")
    table = pd.DataFrame({"key": key, "clustered": part[schema.DUP_CLUSTER].notna(),
                          "duplicate": part[schema.STATUS] == schema.DUPLICATE})
    grouped = table.groupby("key").agg(rows=("key", "size"), clustered=("clustered", "sum"),
                                       duplicates=("duplicate", "sum"))
    return {str(k): {c: int(v) for c, v in r.items()} for k, r in grouped.iterrows()}


def summarize(frame: pd.DataFrame, rows: pd.Index, result: DedupeResult, options: DedupeOptions
              ) -> dict[str, Any]:
    """Counts for people and scripts: clusters, rows marked, per label and per source."""
    part = frame.loc[rows]
    clustered = part[part[schema.DUP_CLUSTER].notna()]
    mixed = (clustered.groupby(schema.DUP_CLUSTER)[schema.LABEL].nunique(dropna=False) > 1).sum()
    conflicts = int(part[schema.DUP_CONFLICT].notna().sum()) if schema.DUP_CONFLICT in part else 0
    return {
        "hash": options.hash, "hash_size": options.size, "threshold": options.distance,
        "keep": options.keep, "flip_invariant": options.flip_invariant,
        "cluster_method": options.clusters, "conflicts": conflicts, "warnings": result.warnings,
        "rows_considered": len(rows), "hashed": result.hashing.hashed,
        "hash_reused": result.hashing.reused, "hash_failed": result.hashing.failed,
        "clusters": len(result.clusters), "rows_in_clusters": sum(len(c) for c in result.clusters),
        "marked_duplicate": sum(len(c) - 1 for c in result.clusters),
        "clusters_with_mixed_labels": int(mixed),
        "leak_pairs": len(result.leak_pairs), "leaking_clusters": result.leaking_clusters,
        "by_label": _by(frame, rows, schema.LABEL), "by_source": _by(frame, rows, schema.SOURCE),
    }


def delete_duplicate_files(frame: pd.DataFrame, root: Path,
                           refused: list[str] | None = None) -> list[Path]:
    """Delete the files of rows marked duplicate (never a file a kept row also points to).

    Only files inside ``root`` (the dataset folder) are deleted: a ``path`` that leads out of it
    (``../``, an absolute path, a symbolic link) is left alone and appended to ``refused``.
    """
    dup = frame[schema.STATUS] == schema.DUPLICATE
    kept = set(frame.loc[~dup, schema.PATH].dropna())
    real_root = root.resolve()
    deleted = []
    for rel in frame.loc[dup, schema.PATH].dropna().unique():
        if rel in kept:
            continue
        path = root / rel
        if real_root not in path.resolve().parents:
            log.warning("not deleting %s: it is outside the dataset folder %s", rel, root)
            if refused is not None:
                refused.append(str(rel))
            continue
        if path.is_file():
            path.unlink()
            deleted.append(path)
    log.info("deleted %d duplicate files", len(deleted))
    return deleted
