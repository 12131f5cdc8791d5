"""What ``curate dedupe`` gives back: the marked frame, the clusters, leaks and a summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from manifests import ExitStatus, schema

from ..contract import StageResult
from ..text import plural
from .hashing import HashOutcome
from .marking import count_by

if TYPE_CHECKING:
    from .options import DedupeOptions


@dataclass
class DedupeResult(StageResult):
    """The updated frame, the clusters (row labels, keeper first), leaks and a summary.

    ``leak_check`` (``--leaks``): the run is a check, and fails when clusters span splits.
    """

    frame: pd.DataFrame
    clusters: list[list[int]]
    distances: dict[int, Any]
    leak_pairs: pd.DataFrame
    leaking_clusters: int
    hashing: HashOutcome
    summary: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    leak_check: bool = False

    def data(self) -> dict[str, Any]:
        frame = self.frame
        clusters = [{"id": frame.at[c[0], schema.DUP_CLUSTER], "keep": frame.at[c[0], schema.PATH],
                     "duplicates": [{"path": frame.at[r, schema.PATH], "distance": self.distances[r]}
                                    for r in c[1:]]} for c in self.clusters]
        leaks = [{"a": frame.at[p.a, schema.PATH], "split_a": p.split_a, "b": frame.at[p.b, schema.PATH],
                  "split_b": p.split_b} for p in self.leak_pairs.itertuples()]
        return {**self.summary, "clusters_list": clusters, "leaks": leaks, "written": not self.dry_run}

    def lines(self) -> list[str]:
        s = self.summary
        out = []
        if self.leak_check:
            out.append(f"{s['leak_pairs']} near-duplicate pairs across splits, "
                       f"{plural(s['leaking_clusters'], 'cluster')} spanning more than one split.")
        marked = ("would be marked duplicate" if self.dry_run else "marked duplicate")
        change = []
        if s.get("newly_marked", 0) != s["marked_duplicate"] or s.get("unmarked"):
            change.append(f"{s.get('newly_marked', 0)} newly, {s.get('unmarked', 0)} no longer")
        if self.dry_run:
            change.append("nothing written")
        out.append(f"{s['rows_considered']} rows considered ({s['hashed']} hashed, {s['hash_reused']} hashes "
                   f"reused, {s['hash_failed']} unreadable): {plural(s['clusters'], 'cluster')} "
                   f"({s['clusters_with_mixed_labels']} with mixed labels), "
                   f"{plural(s['marked_duplicate'], 'row')} {marked}"
                   + (f" ({'; '.join(change)})." if change else "."))
        if s.get("near_groups"):
            out.append(f"{plural(s['near_groups'], 'near-copy group')} (rows linked by chains of near pairs) "
                       "in dup_group: curate split keeps each on one side.")
        if s["conflicts"]:
            out.append(f"{s['conflicts']} rows near a keeper with another label left ok (see the "
                       "dup_conflict column; --conflicts mark marks them duplicate).")
        return out + [f"warning: {w}" for w in self.warnings]

    def exit_status(self) -> ExitStatus:
        return ExitStatus.ERROR if self.leak_check and self.leaking_clusters else ExitStatus.OK


def summarize(frame: pd.DataFrame, rows: pd.Index, result: DedupeResult, options: DedupeOptions,
              before: pd.Series | None = None) -> dict[str, Any]:
    """Counts for people and scripts: clusters, rows marked, per label and per source.

    The counts are read from the frame that is written, never from the clusters: ``marked_duplicate``
    is the rows whose status is ``duplicate`` (members left ok for a label conflict are not), and,
    against ``before`` (each row's status before the run), ``newly_marked`` and ``unmarked`` are what
    changed."""
    part = frame.loc[rows]
    now_dup = part[schema.STATUS] == schema.DUPLICATE
    was_dup = (before.loc[rows] == schema.DUPLICATE) if before is not None else pd.Series(False, index=rows)
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
        "marked_duplicate": int(now_dup.sum()),
        "newly_marked": int((now_dup & ~was_dup).sum()), "unmarked": int((was_dup & ~now_dup).sum()),
        "clusters_with_mixed_labels": int(mixed),
        "leak_pairs": len(result.leak_pairs), "leaking_clusters": result.leaking_clusters,
        "by_label": count_by(frame, rows, schema.LABEL), "by_source": count_by(frame, rows, schema.SOURCE),
    }
