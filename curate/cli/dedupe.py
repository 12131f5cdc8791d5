"""``curate dedupe``: parse, call :func:`curate.dedupe.dedupe`, print its result, delete files if asked."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from manifests import schema
from manifests.cliargs import (
    DEFAULT_MANIFEST,
    ClusterOpt,
    ExecutorOpt,
    JsonOpt,
    ManifestArg,
    executor_spec,
    use_manifest,
)
from manifests.console import RichProgress, err_console

from .options import ENGINE_NAMES, METHOD_NAMES, Command, OutputOpt, WorkersOpt, default_workers
from .render import show
from .views import dedupe_tables

if TYPE_CHECKING:
    import pandas as pd


def dedupe_cmd(
    manifest: ManifestArg = DEFAULT_MANIFEST,
    hash_name: Annotated[str, typer.Option("--hash", help=f"Hash method: {', '.join(METHOD_NAMES)}.")
                         ] = "phash",
    hash_size: Annotated[int | None, typer.Option(min=2, help="Hash size (bits per side; colorhash: "
                                                  "bits per bin). Default 8 (colorhash 3).")] = None,
    threshold: Annotated[int | None, typer.Option(min=0, help="Largest Hamming distance between a "
                                                  "duplicate and its keeper. Default: 10 per 64 bits "
                                                  "of hash (10 for phash 8, 40 for 16).")] = None,
    clusters: Annotated[str, typer.Option(
        "--clustering", help="keeper: every member within the threshold of its keeper; components: "
        "connected components (chains join far-apart images).")] = "keeper",
    conflicts: Annotated[str, typer.Option(help="Members labelled unlike their keeper: keep (left ok "
                                           "with a dup_conflict note) or mark (duplicate anyway).")
                         ] = "keep",
    method: Annotated[str, typer.Option(help="hash (perceptual hash) or embedding (cosine similarity "
                                        "of the trainer's backbone features; catches crops, rotations "
                                        "and recolourings).")] = "hash",
    similarity: Annotated[float, typer.Option(help="embedding: smallest cosine similarity to the keeper."
                                              )] = 0.95,
    arch: Annotated[str, typer.Option(help="embedding: backbone (a train --arch).")] = "resnet18",
    weights: Annotated[str, typer.Option(help="embedding: imagenet, none, or a PATH (a train model.pt "
                                         "or state dict).")] = "imagenet",
    keep: Annotated[str, typer.Option(help="Which row of a cluster stays: largest (resolution), "
                                      "first (harvested), score (highest).")] = "largest",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the clusters; change nothing.")
                       ] = False,
    flip_invariant: Annotated[bool, typer.Option("--flip-invariant", help="Also match mirrored "
                                                 "copies.")] = False,
    leaks: Annotated[bool, typer.Option("--leaks", help="Check only: list near-duplicate pairs in "
                                        "different splits; exit 1 if there are any.")] = False,
    workers: WorkersOpt = None,
    engine: Annotated[str, typer.Option("--index", help=f"Search index: {', '.join(ENGINE_NAMES)}.")
                      ] = "auto",
    executor: ExecutorOpt = "local",
    cluster: ClusterOpt = None,
    output: OutputOpt = None,
    delete_files: Annotated[bool, typer.Option("--delete-files", help="Delete the files of rows "
                                               "marked duplicate (asks first).")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before deleting files.")] = False,
    force: Annotated[bool, typer.Option("--force", help="embedding: run with --weights none (untrained "
                                        "features, refused otherwise) and warn.")] = False,
    as_json: JsonOpt = False,
) -> int:
    """Find near-duplicate images by perceptual hash and mark all but one of each cluster.

    Hashes are stored in the manifest (the phash column, or the method's); only rows lacking one are hashed.

    Per cluster the keeper stays ok; the others get status=duplicate and dup_of=<keeper sha256>.
    Every member is within --threshold of its keeper (no chains). A member labelled unlike its keeper
    stays ok with a dup_conflict note, unless --conflicts mark.

    Files are never deleted unless --delete-files.
    """
    from manifests import update

    from ..dedupe import DedupeOptions, dedupe

    use_manifest(manifest)
    workers = workers or default_workers(4)
    options = DedupeOptions(hash=hash_name, hash_size=hash_size, threshold=threshold, keep=keep,
                            flip_invariant=flip_invariant, workers=workers, engine=engine,
                            clusters=clusters, conflicts=conflicts, method=method, similarity=similarity,
                            arch=arch, weights=weights, executor=executor_spec(executor, cluster, workers),
                            leaks=leaks, force=force)
    root = manifest.resolve().parent
    check_only = dry_run or leaks
    with update(manifest, output=output, dry_run=check_only,
                require=(schema.SHA256, schema.PATH)) as tx, \
            RichProgress(enabled=not as_json) as progress:
        result = dedupe(tx.frame, root, options, progress)
        tx.frame = result.frame
        tx.details = {k: result.summary[k] for k in ("hash", "hash_size", "threshold", "keep",
                                                     "flip_invariant", "clusters", "marked_duplicate",
                                                     "cluster_method", "conflicts")}
    result.record(tx.changes, check_only)
    status = show(result, as_json, lambda r, console: dedupe_tables(r, console, show_clusters=dry_run),
                  stderr=True)
    if delete_files and not check_only:
        _delete(result.frame, root, yes)
    return status


def _delete(frame: pd.DataFrame, root: Path, yes: bool) -> None:
    """Delete the files of the rows marked duplicate, after asking (unless ``yes``)."""
    from ..dedupe import delete_duplicate_files

    n = int((frame[schema.STATUS] == schema.DUPLICATE).sum())
    if yes or typer.confirm(f"Delete the files of {n} rows marked duplicate?", err=True):
        refused: list[str] = []
        deleted = delete_duplicate_files(frame, root, refused)
        err_console.print(f"deleted {len(deleted)} files", highlight=False)
        if refused:
            err_console.print(f"warning: {len(refused)} files outside {root} not deleted "
                              f"(e.g. {refused[0]})", highlight=False, markup=False)


DEDUPE = Command("dedupe", dedupe_cmd, "Examples:\n\n"
                 "  curate dedupe data/manifest.csv --dry-run\n\n"
                 "  curate dedupe data/manifest.csv --threshold 6 --keep first --flip-invariant\n\n"
                 "  curate dedupe data/manifest.csv --leaks   # after curate split: exit 1 on leaks")
