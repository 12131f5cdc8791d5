"""``curate dedupe``: near-duplicate clusters, a keeper per cluster, leak checks.

:func:`dedupe` takes a manifest frame and returns it with every near-duplicate cluster marked: all
members get ``dup_cluster``, the keeper (chosen by a policy in
:data:`~curate.dedupe.marking.KEEP_POLICIES`) stays ``ok`` and the others become ``status=duplicate``
with ``dup_of`` naming the keeper's sha256. Rows earlier marked duplicate are reconsidered, so running
it again with other options gives the same result as running it once. Files are never touched;
:func:`delete_duplicate_files` exists for users who ask for it.

The near pairs come from a registered method (:mod:`curate.dedupe.methods`: perceptual hashes by
default, or backbone embeddings); the clusters are keeper-centred (:mod:`curate.dedupe.clusters`:
every member within the threshold of its keeper; connected components, which chain, only with
``clusters="components"``), and the marking is the same for every method
(:mod:`curate.dedupe.marking`).

A member whose label differs from its keeper's is not marked duplicate by default: it stays ``ok``
with a ``dup_conflict`` note (``conflicts="mark"`` marks it anyway); such clusters are reported.

Clusters are keeper-centred, so two images within the threshold of each other can sit in different
clusters; the connected components of the near-pair graph (chains included) are written apart, as
``dup_group``, and ``curate split`` keeps each on one side: no near pair crosses a split.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from manifests import schema
from manifests.progress import Progress

from . import clusters as clustering
from .marking import eligible_rows, keeper_rank, leaks, mark, mark_groups, no_leaks, reset
from .method import Method
from .methods import METHODS
from .options import DedupeOptions
from .result import DedupeResult, summarize

log = logging.getLogger(__name__)

__all__ = ["DedupeOptions", "DedupeResult", "dedupe", "delete_duplicate_files", "keeper_rank"]


def dedupe(frame: pd.DataFrame, root: Path, options: DedupeOptions, progress: Progress | None = None,
           method: Method | None = None) -> DedupeResult:
    """Measure what is not measured yet, find near-duplicate clusters and mark them in a copy of ``frame``.

    ``method`` overrides the registered method ``options.method`` names (a test's own embedder).
    """
    method = method or METHODS[options.method]()
    frame = frame.copy()
    eligible = eligible_rows(frame)
    rank = keeper_rank(frame, options.keep)  # before hashing: a bad policy fails fast
    before = frame[schema.STATUS].copy()  # what the manifest says now: the summary counts the change
    reset(frame, eligible)
    found = method.find(frame, root, eligible, options, progress)
    found_clusters: list[list[int]] = []
    distances: dict[int, object] = {}
    leak_pairs, leaking, near_groups = no_leaks(), 0, 0
    if found.graph is not None:
        graph = found.graph
        labels = clustering.cluster_rows(graph.node_of, graph.n_nodes, graph.pi, graph.pj,
                                         rank.loc[found.rows].to_numpy(), options.clusters)
        found_clusters, distances = mark(frame, found.rows, labels, rank, graph.distance, graph.measure,
                                         options.conflicts)
        components = clustering.component_clusters(graph.node_of, graph.n_nodes, graph.pi, graph.pj)
        near_groups = mark_groups(frame, found.rows, components, rank)
        leak_pairs, leaking = leaks(frame, found.rows, labels, graph.node_of, graph.pi, graph.pj)
    result = DedupeResult(frame, found_clusters, distances, leak_pairs, leaking, found.outcome,
                          warnings=found.warnings, leak_check=options.leaks)
    result.summary = {**summarize(frame, found.rows, result, options, before), **method.summary(options),
                      "near_groups": near_groups}
    return result


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
