"""``curate``: commands that read a manifest and update it in place (atomically) or write ``-o OTHER``.

The CLI parses options and prints; the work lives in the curate library modules.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from manifests import ExitStatus, InputError, UsageError, read, schema, update
from manifests.console import RichProgress, err_console, print_json, run_app, setup_logging

from .dedupe import DedupeOptions, DedupeResult, dedupe, delete_duplicate_files
from .hashing import METHODS
from .index import ENGINES
from .stats import stats

app = typer.Typer(
    name="curate", no_args_is_help=True, rich_markup_mode="rich",
    help="Inspect and clean a manifest: counts, near-duplicates, balance, leak-free splits, export.",
    epilog="Add --debug to any command to see the traceback of an error.")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]


@app.callback()
def _main(verbose: Annotated[int, typer.Option("--verbose", "-v", count=True,
                                               help="More log output (-vv for debug).")] = 0) -> None:
    setup_logging(verbose)


@app.command("stats", epilog="Example:\n\n  curate stats data/manifest.csv --by label,street")
def stats_cmd(
    manifest: Annotated[Path, typer.Argument(help="Manifest to read (.csv or .parquet).")],
    by: Annotated[str, typer.Option(help="Comma-separated columns to count rows by.")] = "label",
    as_json: JsonOpt = False,
) -> None:
    """Count rows by status and by any columns (label, source, street, scene...)."""
    if not manifest.exists():
        raise InputError(f"{manifest} does not exist")
    result = stats(read(manifest), [c.strip() for c in by.split(",") if c.strip()])
    if as_json:
        print_json(result)
        return
    console = Console()
    console.print(f"{result['rows']} rows, {result['ok']} ok", highlight=False)
    for title, counts in (("status", result["status"]), *result["by"].items()):
        table = Table(title=f"rows by {title}")
        table.add_column(title)
        table.add_column("rows", justify="right")
        for key, n in counts.items():
            table.add_row(key, str(n))
        console.print(table)


SHOWN = 30  # clusters or leak pairs printed before "... and N more"
PLAIN = {"markup": False, "highlight": False, "soft_wrap": True}


def _print_dedupe(result: DedupeResult, show_clusters: bool, show_leaks: bool) -> None:
    console = Console(stderr=True)
    frame, summary = result.frame, result.summary
    if show_clusters:
        for cluster in result.clusters[:SHOWN]:
            keeper = cluster[0]
            console.print(f"cluster {frame.at[keeper, schema.DUP_CLUSTER]} ({len(cluster)}): keep "
                          f"{frame.at[keeper, schema.PATH]} ({frame.at[keeper, schema.LABEL]})", **PLAIN)
            for row in cluster[1:]:
                console.print(f"    {frame.at[row, schema.PATH]} ({frame.at[row, schema.LABEL]}) "
                              f"distance {result.distances[row]}", **PLAIN)
        if len(result.clusters) > SHOWN:
            console.print(f"... and {len(result.clusters) - SHOWN} more clusters (--json lists all)")
    for column in ("label", "source"):
        table = Table(title=f"near-duplicates by {column}")
        for name in (column, "rows", "in clusters", "marked duplicate"):
            table.add_column(name, justify="left" if name == column else "right")
        for key, counts in summary[f"by_{column}"].items():
            table.add_row(key, *(str(counts[c]) for c in ("rows", "clustered", "duplicates")))
        console.print(table)
    if show_leaks:
        for pair in result.leak_pairs.head(SHOWN).itertuples():
            console.print(f"leak: {frame.at[pair.a, schema.PATH]} ({pair.split_a}) ~ "
                          f"{frame.at[pair.b, schema.PATH]} ({pair.split_b})", **PLAIN)
        console.print(f"{summary['leak_pairs']} near-duplicate pairs across splits, "
                      f"{summary['leaking_clusters']} clusters spanning more than one split.", **PLAIN)
    console.print(f"{summary['rows_considered']} rows considered ({summary['hashed']} hashed, "
                  f"{summary['hash_reused']} hashes reused, {summary['hash_failed']} unreadable): "
                  f"{summary['clusters']} clusters ({summary['clusters_with_mixed_labels']} with mixed "
                  f"labels), {summary['marked_duplicate']} rows marked duplicate.",
                  **PLAIN)


def _json_dedupe(result: DedupeResult) -> dict:
    frame = result.frame
    clusters = [{"id": frame.at[c[0], schema.DUP_CLUSTER], "keep": frame.at[c[0], schema.PATH],
                 "duplicates": [{"path": frame.at[r, schema.PATH], "distance": result.distances[r]}
                                for r in c[1:]]} for c in result.clusters]
    leaks = [{"a": frame.at[p.a, schema.PATH], "split_a": p.split_a, "b": frame.at[p.b, schema.PATH],
              "split_b": p.split_b} for p in result.leak_pairs.itertuples()]
    return {**result.summary, "clusters_list": clusters, "leaks": leaks}


@app.command("dedupe", epilog="Examples:\n\n"
             "  curate dedupe data/manifest.csv --dry-run\n\n"
             "  curate dedupe data/manifest.csv --threshold 6 --keep first --flip-invariant\n\n"
             "  curate dedupe data/manifest.csv --leaks   # after curate split: exit 1 on leaks")
def dedupe_cmd(
    manifest: Annotated[Path, typer.Argument(help="Manifest to update (.csv or .parquet).")],
    hash_name: Annotated[str, typer.Option("--hash", help=f"Hash method: {', '.join(METHODS)}.")
                         ] = "phash",
    hash_size: Annotated[int | None, typer.Option(min=2, help="Hash size (bits per side; colorhash: "
                                                  "bits per bin). Default 8 (colorhash 3).")] = None,
    threshold: Annotated[int, typer.Option(min=0, help="Largest Hamming distance between "
                                           "near-duplicates.")] = 10,
    keep: Annotated[str, typer.Option(help="Which row of a cluster stays: largest (resolution), "
                                      "first (harvested), score (highest).")] = "largest",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the clusters; change nothing.")
                       ] = False,
    flip_invariant: Annotated[bool, typer.Option("--flip-invariant", help="Also match mirrored "
                                                 "copies.")] = False,
    leaks: Annotated[bool, typer.Option("--leaks", help="Check only: list near-duplicate pairs in "
                                        "different splits; exit 1 if there are any.")] = False,
    workers: Annotated[int, typer.Option("--workers", "-j", min=1, help="Processes for hashing, "
                                         "threads for the search.")] = max(1, min(4, os.cpu_count() or 1)),
    engine: Annotated[str, typer.Option("--index", help=f"Search index: {', '.join(ENGINES)}.")
                      ] = "auto",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the result to another "
                                                "manifest; leave the input as it is.")] = None,
    delete_files: Annotated[bool, typer.Option("--delete-files", help="Delete the files of rows "
                                               "marked duplicate (asks first).")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before deleting files.")] = False,
    as_json: JsonOpt = False,
) -> int:
    """Find near-duplicate images by perceptual hash and mark all but one of each cluster.

    Hashes are stored in the manifest (the phash column, or the method's); only rows lacking one are hashed.

    Per cluster the keeper stays ok; the others get status=duplicate and dup_of=<keeper sha256>.

    Files are never deleted unless --delete-files.
    """
    if not manifest.exists():
        raise InputError(f"{manifest} does not exist")
    if hash_name not in METHODS:
        raise UsageError(f"unknown --hash {hash_name!r} (choose from {', '.join(METHODS)})")
    if engine not in ENGINES:
        raise UsageError(f"unknown --index {engine!r} (choose from {', '.join(ENGINES)})")
    options = DedupeOptions(hash=hash_name, hash_size=hash_size, threshold=threshold, keep=keep,
                            flip_invariant=flip_invariant, workers=workers, engine=engine)
    root = manifest.resolve().parent
    check_only = dry_run or leaks
    with update(manifest, output=output, dry_run=check_only) as tx, \
            RichProgress(enabled=not as_json) as progress:
        result = dedupe(tx.frame, root, options, progress)
        tx.frame = result.frame
        tx.details = {k: result.summary[k] for k in ("hash", "hash_size", "threshold", "keep",
                                                     "flip_invariant", "clusters", "marked_duplicate")}
    if as_json:
        print_json(_json_dedupe(result))
    else:
        _print_dedupe(result, show_clusters=dry_run, show_leaks=leaks)
    if delete_files and not check_only:
        n = int((result.frame[schema.STATUS] == schema.DUPLICATE).sum())
        if yes or typer.confirm(f"Delete the files of {n} rows marked duplicate?", err=True):
            deleted = delete_duplicate_files(result.frame, root)
            err_console.print(f"deleted {len(deleted)} files", highlight=False)
    return int(ExitStatus.ERROR if leaks and result.leaking_clusters else ExitStatus.OK)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``curate`` console script."""
    raise SystemExit(run_app(app, argv, "curate"))
