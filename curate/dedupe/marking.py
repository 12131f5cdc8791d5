"""Marking near-duplicate clusters in a manifest frame, shared by every dedupe method.

Whatever found the clusters (perceptual hashes or embeddings, :mod:`curate.dedupe.methods`), the rows
are marked the same way: all members get ``dup_cluster``, the keeper (the first row in the order of a
policy of :data:`KEEP_POLICIES`) stays ``ok`` and the others become ``status=duplicate`` with
``dup_of`` naming the keeper's sha256, unless their label differs from the keeper's (they then stay
``ok`` with a ``dup_conflict`` note, ``conflicts="keep"``). :func:`reset` undoes an earlier run first,
so running dedupe again with other options gives the same result as running it once;
:func:`leaks` lists near-duplicate pairs in different splits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from manifests import UsageError, schema

LEAK_GROUP_CAP = 200  # rows per (node, split) listed as leak pairs; the cluster count stays exact
LEAK_COLUMNS = ["a", "b", "split_a", "split_b"]
CONFLICTS = ("keep", "mark")


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
KEEP_POLICIES: dict[str, Callable[[pd.DataFrame], list[tuple[pd.Series, bool]]]] = {
    "largest": _largest, "first": _first, "score": _score,
}


def check_policy(policy: str) -> None:
    """A UsageError naming the choices when ``policy`` is not a registered keep policy."""
    if policy not in KEEP_POLICIES:
        raise UsageError(f"unknown --keep policy {policy!r} (choose from {', '.join(KEEP_POLICIES)})")


def keeper_rank(frame: pd.DataFrame, policy: str) -> pd.Series:
    """Each row's rank under a keep policy (0 is kept first); ties go to the earlier row."""
    check_policy(policy)
    keys = KEEP_POLICIES[policy](frame)
    table = pd.DataFrame({f"k{i}": s.to_numpy() for i, (s, _) in enumerate(keys)}, index=frame.index)
    table["row"] = np.arange(len(frame))
    ordered = table.sort_values([*table.columns[:-1], "row"], ascending=[a for _, a in keys] + [True],
                                na_position="last", kind="stable")
    return pd.Series(np.arange(len(ordered)), index=ordered.index).reindex(frame.index)


def eligible_rows(frame: pd.DataFrame) -> pd.Index:
    """Rows dedupe considers: ok or earlier marked duplicate, with a file."""
    return frame.index[frame[schema.STATUS].isin([schema.OK, schema.DUPLICATE]) & frame[schema.PATH].notna()]


def reset(frame: pd.DataFrame, rows: pd.Index) -> None:
    """Undo an earlier dedupe on these rows."""
    was_dup = rows[frame.loc[rows, schema.STATUS] == schema.DUPLICATE]
    frame.loc[was_dup, schema.STATUS] = schema.OK
    frame.loc[was_dup, schema.ERROR] = pd.NA
    frame.loc[rows, [schema.DUP_OF, schema.DUP_CLUSTER]] = pd.NA
    for column in (schema.DUP_CONFLICT, schema.DUP_GROUP):
        if column in frame.columns:
            frame.loc[rows, column] = pd.NA


def mark_groups(frame: pd.DataFrame, rows: pd.Index, components: np.ndarray, rank: pd.Series) -> int:
    """Write ``dup_group`` (the connected components of the near-pair graph, two rows or more: every
    pair within the threshold is in one group, chains included) for ``curate split`` to tie; the id is
    the best-ranked member's sha256 prefix. Returns the number of groups."""
    members = pd.DataFrame({"row": np.asarray(rows), "group": components, "rank": rank.loc[rows].to_numpy()})
    members = members[members.groupby("group")["row"].transform("size") > 1]
    if members.empty:
        return 0
    members = members.sort_values(["group", "rank"], kind="stable")
    first = members.groupby("group", sort=False)["row"].transform("first").to_numpy()
    if schema.DUP_GROUP not in frame.columns:
        frame[schema.DUP_GROUP] = pd.Series(pd.NA, index=frame.index, dtype="string")
    ids = frame.loc[first, schema.SHA256].to_numpy(dtype=object)
    frame.loc[members["row"].to_numpy(), schema.DUP_GROUP] = [str(s)[:16] for s in ids]
    return int(members["group"].nunique())


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


def no_leaks() -> pd.DataFrame:
    """The empty leak-pair table."""
    return pd.DataFrame(columns=LEAK_COLUMNS)


def leaks(frame: pd.DataFrame, rows: pd.Index, labels: np.ndarray, node_of: np.ndarray,
          pi: np.ndarray, pj: np.ndarray) -> tuple[pd.DataFrame, int]:
    """Near-duplicate row pairs in different splits, and the number of clusters spanning splits."""
    split = frame.loc[rows, schema.SPLIT].to_numpy(dtype=object)
    has = pd.notna(split)
    if not has.any():
        return no_leaks(), 0
    spans = pd.DataFrame({"c": labels[has], "s": split[has]}).groupby("c")["s"].nunique()
    leaking = int((spans > 1).sum())
    if not leaking:
        return no_leaks(), 0
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


def count_by(frame: pd.DataFrame, rows: pd.Index, column: str) -> dict[str, dict[str, int]]:
    """Rows, rows in clusters and rows marked duplicate per value of ``column``."""
    if column not in frame.columns:
        return {}
    part = frame.loc[rows]
    key = part[column].astype("string").fillna("(missing)")
    table = pd.DataFrame({"key": key, "clustered": part[schema.DUP_CLUSTER].notna(),
                          "duplicate": part[schema.STATUS] == schema.DUPLICATE})
    grouped = table.groupby("key").agg(rows=("key", "size"), clustered=("clustered", "sum"),
                                       duplicates=("duplicate", "sum"))
    return {str(k): {c: int(v) for c, v in r.items()} for k, r in grouped.iterrows()}
