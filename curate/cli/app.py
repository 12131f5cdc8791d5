"""``curate``: commands that read a manifest and update it in place (atomically) or write ``-o OTHER``.

The CLI parses options and prints; the work lives in the curate library modules.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from manifests import ExitStatus, schema
from manifests.cliargs import (
    DEFAULT_MANIFEST,
    EPILOG,
    ClusterOpt,
    DebugOpt,
    ExecutorOpt,
    ManifestArg,
    VerboseOpt,
    VersionOpt,
    executor_spec,
    use_manifest,
)
from manifests.console import RichProgress, err_console, print_json, run_app, setup_logging

from ..text import plural
from .report import EXPORT_EPILOG, REPORT_EPILOG, export_cmd, report_cmd

if TYPE_CHECKING:
    import pandas as pd

    from ..balance import BalanceReport
    from ..dedupe import DedupeResult
    from ..split import SplitReport

# The names of curate.hashing.METHODS and curate.index.ENGINES, spelled out so --help imports neither
# numpy nor pandas (tests/curate/test_cli.py keeps them equal).
METHOD_NAMES = ("phash", "dhash", "ahash", "whash", "colorhash")
ENGINE_NAMES = ("auto", "brute", "mih")

app = typer.Typer(
    name="curate", no_args_is_help=True, rich_markup_mode="rich",
    help="Inspect and clean a manifest: counts, near-duplicates, balance, leak-free splits, export.",
    epilog=EPILOG)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Show what would change; write nothing.")]
OutputOpt = Annotated[Path | None, typer.Option(
    "--output", "-o", help="Write the result to this manifest and leave the input untouched.")]
SeedOpt = Annotated[int, typer.Option(help="Seed: the same manifest and seed give the same result.")]


@app.callback()
def _main(verbose: VerboseOpt = 0, debug: DebugOpt = False, version: VersionOpt = False) -> None:
    setup_logging(verbose)


@app.command("stats", epilog="Example:\n\n  curate stats data/manifest.csv --by label,street   # a cross-tab")
def stats_cmd(
    manifest: ManifestArg = DEFAULT_MANIFEST,
    by: Annotated[str, typer.Option(help="Comma-separated columns to count rows by.")] = "label",
    as_json: JsonOpt = False,
) -> None:
    """Count rows by status and by any columns; two or more columns give a cross-tab."""
    from manifests import read

    from ..stats import stats

    result = stats(read(use_manifest(manifest)), list(_columns(by)))
    if as_json:
        print_json(result)
        return
    console = Console()
    console.print(f"{result['rows']} rows, {result['ok']} ok", highlight=False)
    for title, counts in (("status", result["status"]), *result["by"].items()):
        if title != "status" and "crosstab" in result:
            continue  # the cross-tab below holds these counts
        table = titled(f"rows by {title}", console)
        table.add_column(title)
        table.add_column("rows", justify="right")
        for key, n in counts.items():
            table.add_row(key, str(n))
        console.print(table)
    if "crosstab" in result:
        _print_crosstab(result["crosstab"], console)


def _print_crosstab(cross: dict[str, Any], console: Console) -> None:
    import pandas as pd

    frame = pd.DataFrame.from_dict(cross["counts"], orient="index").fillna(0).astype(int)
    frame.index.name, frame.columns.name = " x ".join(cross["rows"]), cross["columns"]
    shown, note = _fit_console(frame, console)
    grid = titled(f"ok rows by {' x '.join(cross['rows'])} (down) and {cross['columns']} (across)"
                  if shown.columns.name == cross["columns"] else
                  f"ok rows by {cross['columns']} (down) and {' x '.join(cross['rows'])} (across)", console)
    grid.add_column(str(shown.index.name or ""))
    for col in shown.columns:
        grid.add_column(str(col), justify="right")
    for key, row in shown.iterrows():
        grid.add_row(str(key), *[str(v) for v in row])
    grid.add_row("[bold]all[/]", *[str(v) for v in shown.sum(axis=0)])
    console.print(grid)
    if note:
        console.print(f"table cut to fit the terminal ({note}); every cell: --json", highlight=False)


def titled(title: str, console: Console | None = None) -> Table:
    """A table at least as wide as its title, so the title never wraps mid-word."""
    width = (console or Console()).width
    return Table(title=title, min_width=min(len(title) + 4, width))


def _columns(text: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in text.split(",") if c.strip())


BALANCE_EPILOG = """Examples:

  curate balance data/manifest.csv --by label,street --plot balance.png

  curate balance data/manifest.csv --by label,scene --max-per-cell 200 --prefer spread

  curate balance data/manifest.csv --by label,subreddit --strategy weight --json
"""


@app.command("balance", epilog=BALANCE_EPILOG)
def balance_cmd(
    manifest: ManifestArg = DEFAULT_MANIFEST,
    by: Annotated[str, typer.Option(help="Comma-separated columns whose combinations are the cells.")
                  ] = "label",
    min_per_cell: Annotated[int, typer.Option(help="Name the cells with fewer rows than this.")] = 5,
    max_per_cell: Annotated[int | None, typer.Option(
        help="Cap: rows beyond this in a cell get status=over_cap.")] = None,
    prefer: Annotated[str, typer.Option(
        help="Which rows a cap keeps: score, resolution, spread (over groups/time) or random.")
                      ] = "random",
    seed: SeedOpt = 0,
    strategy: Annotated[str, typer.Option(
        help="cap (over_cap rows), weight (the weight column) or both.")] = "both",
    plot: Annotated[Path | None, typer.Option(help="Save a heatmap of the counts (PNG).")
                    ] = None,
    dry_run: DryRunOpt = False, as_json: JsonOpt = False, output: OutputOpt = None,
) -> None:
    """Count rows per cell of any columns, cap crowded cells and write sampling weights."""
    from manifests import update

    from ..balance import BalanceOptions, balance, table

    options = BalanceOptions(by=_columns(by), min_per_cell=min_per_cell, max_per_cell=max_per_cell,
                             prefer=prefer, seed=seed, strategy=strategy)
    with update(use_manifest(manifest), output=output, dry_run=dry_run) as tx:
        tx.frame, report = balance(tx.frame, options)
        tx.details = {"by": list(options.by), "strategy": strategy, "max_per_cell": max_per_cell,
                      "prefer": prefer, "seed": seed, "over_cap": sum(report.capped.values())}
    if plot:
        from ..heatmap import plot_heatmap  # matplotlib only when a plot is asked for

        plot_heatmap(table(report.before), plot, min_per_cell, f"ok rows per {' x '.join(options.by)}")
    if as_json:
        print_json({**report.as_dict(), "changes": tx.changes.as_dict(), "dry_run": dry_run,
                    "plot": str(plot) if plot else None})
        return
    _print_balance(report, min_per_cell, plot, dry_run)


def _fit_console(counts: pd.DataFrame, console: Console) -> tuple[pd.DataFrame, str]:
    """The count table cut to the terminal: long side down, top columns and rows plus 'other'."""
    from ..tables import fit

    names = [" x ".join(map(str, k)) if isinstance(k, tuple) else str(k) for k in counts.index]
    name_w = min(30, max([len(n) for n in names] + [8])) + 4
    col_w = min(12, max([len(str(c)) for c in counts.columns] + [len(str(counts.to_numpy().max()))
                                                                   if counts.size else 1]) + 3)
    return fit(counts, max(3, (console.width - name_w) // max(col_w, 5)), MAX_ROWS)


MAX_ROWS = 40  # rows of a count table printed before the rest are summed as "other"


def _print_balance(report: BalanceReport, minimum: int, plot: Path | None, dry_run: bool) -> None:
    from ..balance import table

    console = Console()
    counts, note = _fit_console(table(report.before), console)
    grid = titled(f"ok rows per {' x '.join(report.by)}", console)
    grid.add_column(" x ".join(str(n) for n in counts.index.names if n) or "cell")
    for col in counts.columns:
        grid.add_column(str(col), justify="right")
    summed = {c for c in counts.columns if str(c).startswith("other (")}
    for key, row in counts.iterrows():
        name = " x ".join(map(str, key)) if isinstance(key, tuple) else str(key)
        summed_row = name.startswith("other (")
        grid.add_row(name, *[f"[red]{v}[/]" if v < minimum and c not in summed and not summed_row
                             else str(v) for c, v in row.items()])
    console.print(grid)
    if note:
        console.print(f"table cut to fit the terminal ({note}); every cell: --json, or the heatmaps of "
                      "`curate report`", highlight=False)
    if report.thin:
        console.print(f"{plural(len(report.thin), 'thin cell')} (< {minimum}): " + "; ".join(report.thin[:20])
                      + (" ..." if len(report.thin) > 20 else ""), highlight=False)
    if report.capped:
        cells = f"{len(report.capped)} cell{'s' if len(report.capped) != 1 else ''}"
        console.print(f"over_cap: {sum(report.capped.values())} rows in {cells} ("
                      + ", ".join(f"{k}: {v}" for k, v in report.capped.items()) + ")", highlight=False)
    if report.weights:
        console.print(f"weight: {report.weights[0]} to {report.weights[1]} (mean 1 over kept rows)",
                      highlight=False)
    if plot:
        console.print(f"heatmap: {plot}", highlight=False)
    if dry_run:
        console.print("dry run: nothing written")


SPLIT_EPILOG = """Examples:

  curate split --group-by street   # manifest.csv in the current folder

  curate split data/manifest.csv --group-by street

  curate split data/manifest.csv --group-by video,scene --ratios 0.8,0.2 --pin val=my_scenes.txt

  curate split studios/manifest.csv --group-by 'scene|creator'   # frames by scene, fan art by creator

  curate split data/manifest.csv --random --seed 3 --json   # no group column: rows one by one
"""


@app.command("split", epilog=SPLIT_EPILOG)
def split_cmd(
    manifest: ManifestArg = DEFAULT_MANIFEST,
    group_by: Annotated[str, typer.Option(
        help="Column(s) whose values never cross splits (street, scene, post_id, video,scene); "
             "'scene|creator' groups each row by the first of them it has (frames by scene, fan art by "
             "creator). Recorded as the manifest's group columns.")] = "",
    ratios: Annotated[str, typer.Option(help="train,val[,test] shares.")] = "0.7,0.15,0.15",
    stratify: Annotated[str, typer.Option(help="Class column to balance per split ('' for none).")
                        ] = "label",
    seed: SeedOpt = 0,
    pin: Annotated[list[str] | None, typer.Option(
        help="SPLIT=FILE: put the groups listed in FILE (one a line) in SPLIT first. Repeatable.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Redo rows that already have a split.")] = False,
    random: Annotated[bool, typer.Option(
        "--random", help="Split rows one by one even though a group column exists.")] = False,
    dry_run: DryRunOpt = False, as_json: JsonOpt = False, output: OutputOpt = None,
) -> None:
    """Write a leak-free train/val/test split: whole groups, near-duplicates together, stratified."""
    from manifests import update

    from ..split import SplitOptions, assign_splits, group_columns_of, parse_ratios, read_pins

    groups = _columns(group_by)
    options = SplitOptions(group_by=groups, ratios=parse_ratios(ratios), stratify=stratify or None,
                           seed=seed, pins=read_pins(pin or [], groups), force=force, random=random)
    needs = (options.stratify,) if options.stratify else ()  # every usable row needs its class
    with update(use_manifest(manifest), output=output, dry_run=dry_run, require=needs) as tx:
        tx.frame, report = assign_splits(tx.frame, options)
        tx.declare_groups(group_columns_of(groups), "curate split --group-by")
        tx.details = {"group_by": list(groups), "ratios": list(options.ratios), "stratify": stratify,
                      "seed": seed, "pinned": report.pinned, "force": force, "random": random,
                      "max_deviation": round(report.deviation, 6)}
    if as_json:
        print_json({**report.as_dict(), "changes": tx.changes.as_dict(), "dry_run": dry_run})
        return
    _print_split(report, dry_run)


def _print_split(report: SplitReport, dry_run: bool) -> None:
    console = Console()
    grid = titled(f"rows per class and split ({plural(report.groups, 'group')}, {report.items} after "
                  "joining near-duplicates)", console)
    grid.add_column("class")
    for name, ratio in zip(report.splits, report.ratios, strict=True):
        grid.add_column(f"{name} ({ratio:.0%})", justify="right")
    totals = dict.fromkeys(report.splits, 0)
    for cls, row in report.counts.items():
        n = sum(row.values()) or 1
        grid.add_row(cls, *[f"{row[s]} ({row[s] / n:.1%})" for s in report.splits])
        for s in report.splits:
            totals[s] += row[s]
    n = sum(totals.values()) or 1
    grid.add_row("[bold]all[/]", *[f"{totals[s]} ({totals[s] / n:.1%})" for s in report.splits])
    console.print(grid)
    where = f" ({report.worst[0]} in {report.worst[1]})" if report.worst else ""
    console.print(f"largest deviation from the ratios: {report.deviation:.2%}{where}", highlight=False)
    console.print(f"{report.assigned} rows assigned, {report.kept} kept from the existing split column"
                  + (" (--force to redo them)" if report.kept else ""), highlight=False)
    for split, n_groups in report.pinned.items():
        console.print(f"pinned: {plural(n_groups, 'group')} in {split}", highlight=False)
    for line in report.warnings:
        console.print(f"[yellow]warning:[/] {line}", highlight=False)
    if dry_run:
        console.print("dry run: nothing written")


SHOWN = 30  # clusters or leak pairs printed before "... and N more"
PLAIN = {"markup": False, "highlight": False, "soft_wrap": True}


def _print_dedupe(result: DedupeResult, show_clusters: bool, show_leaks: bool,
                  written: bool = True) -> None:
    console = Console(stderr=True)
    frame, summary = result.frame, result.summary
    if show_clusters:
        for cluster in result.clusters[:SHOWN]:
            keeper = cluster[0]
            console.print(f"cluster {frame.at[keeper, schema.DUP_CLUSTER]} ({len(cluster)}): keep "
                          f"{frame.at[keeper, schema.PATH]} ({frame.at[keeper, schema.LABEL]})", **PLAIN)
            for row in cluster[1:]:
                measure = "similarity" if summary.get("method") == "embedding" else "distance"
                console.print(f"    {frame.at[row, schema.PATH]} ({frame.at[row, schema.LABEL]}) "
                              f"{measure} {result.distances[row]}", **PLAIN)
        if len(result.clusters) > SHOWN:
            more = len(result.clusters) - SHOWN
            console.print(f"... and {more} more {'cluster' if more == 1 else 'clusters'} (--json lists all)")
    for column in ("label", "source"):
        table = titled(f"near-duplicates by {column}", console)
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
                      f"{plural(summary['leaking_clusters'], 'cluster')} spanning more than one split.",
                      **PLAIN)
    console.print(f"{summary['rows_considered']} rows considered ({summary['hashed']} hashed, "
                  f"{summary['hash_reused']} hashes reused, {summary['hash_failed']} unreadable): "
                  f"{plural(summary['clusters'], 'cluster')} ({summary['clusters_with_mixed_labels']} "
                  f"with mixed labels), {plural(summary['marked_duplicate'], 'row')} "
                  + ("marked duplicate." if written else "would be marked duplicate (nothing written)."),
                  **PLAIN)
    if summary["conflicts"]:
        console.print(f"{summary['conflicts']} rows near a keeper with another label left ok (see the "
                      "dup_conflict column; --conflicts mark marks them duplicate).", **PLAIN)
    for warning in result.warnings:
        console.print(f"warning: {warning}", **PLAIN)


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
    workers: Annotated[int, typer.Option("--workers", "-j", min=1, help="Processes for hashing, "
                                         "threads for the search.")] = max(1, min(4, os.cpu_count() or 1)),
    engine: Annotated[str, typer.Option("--index", help=f"Search index: {', '.join(ENGINE_NAMES)}.")
                      ] = "auto",
    executor: ExecutorOpt = "local",
    cluster: ClusterOpt = None,
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
    Every member is within --threshold of its keeper (no chains). A member labelled unlike its keeper
    stays ok with a dup_conflict note, unless --conflicts mark.

    Files are never deleted unless --delete-files.
    """
    from manifests import update

    from ..dedupe import DedupeOptions, dedupe, delete_duplicate_files

    use_manifest(manifest)
    options = DedupeOptions(hash=hash_name, hash_size=hash_size, threshold=threshold, keep=keep,
                            flip_invariant=flip_invariant, workers=workers, engine=engine,
                            clusters=clusters, conflicts=conflicts, method=method, similarity=similarity,
                            arch=arch, weights=weights,
                            executor=executor_spec(executor, cluster, workers))
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
    if as_json:
        print_json({**_json_dedupe(result), "written": not check_only})
    else:
        _print_dedupe(result, show_clusters=dry_run, show_leaks=leaks, written=not check_only)
    if delete_files and not check_only:
        n = int((result.frame[schema.STATUS] == schema.DUPLICATE).sum())
        if yes or typer.confirm(f"Delete the files of {n} rows marked duplicate?", err=True):
            refused: list[str] = []
            deleted = delete_duplicate_files(result.frame, root, refused)
            err_console.print(f"deleted {len(deleted)} files", highlight=False)
            if refused:
                err_console.print(f"warning: {len(refused)} files outside {root} not deleted "
                                  f"(e.g. {refused[0]})", highlight=False, markup=False)
    return int(ExitStatus.ERROR if leaks and result.leaking_clusters else ExitStatus.OK)


AUGMENT_OPS = ("grayscale", "invert", "poisson", "rescale", "log", "sigmoid")  # curate.augment.OPS


@app.command("augment", epilog="Examples:\n\n"
             "  curate augment ghibli/manifest.csv --by source --to-share 0.4\n\n"
             "  curate augment data/manifest.csv --by engine --ops grayscale,invert --max-copies 2")
def augment_cmd(
    manifest: ManifestArg = DEFAULT_MANIFEST,
    by: Annotated[str, typer.Option(help="Column whose scarce values (within each label) get copies, "
                                    "e.g. source or engine.")] = "source",
    to_share: Annotated[float, typer.Option(help="Share of its label each value should reach.")] = 0.4,
    max_copies: Annotated[int, typer.Option(help="Most augmented copies of one image.")] = 6,
    ops: Annotated[str, typer.Option(help="Comma-separated augmentations: grayscale, invert, poisson, "
                                     "rescale, log, sigmoid.")] = ",".join(AUGMENT_OPS),
    seed: SeedOpt = 0,
    dry_run: DryRunOpt = False, as_json: JsonOpt = False, output: OutputOpt = None,
) -> None:
    """Upsample scarce sources with augmented copies (new rows with derived_from), split-safe.

    Copies are written to the image store (images/) and keep their original's label and group
    columns; curate split puts every copy in its original's split. For sampling weights instead of
    new files, use curate balance --by label,source.
    """
    from manifests import update

    from ..augment import AugmentOptions, augment

    options = AugmentOptions(by=by, to_share=to_share, max_copies=max_copies, ops=_columns(ops), seed=seed)
    path = use_manifest(manifest)
    with update(path, output=output, dry_run=dry_run) as tx:
        tx.frame, report = augment(tx.frame, path.resolve().parent, options, write=not dry_run)
        tx.details = {"by": by, "to_share": to_share, "ops": list(options.ops), "copies": report.copies}
    if as_json:
        print_json({"copies": report.copies, "shares": report.shares, "failed": report.failed,
                    "changes": tx.changes.as_dict(), "dry_run": dry_run})
        return
    console = Console()
    grid = Table(title=f"augmented copies by label / {by}")
    for name in ("label / " + by, "copies", "share before", "share after"):
        grid.add_column(name, justify="left" if name.startswith("label") else "right")
    for key, n in report.copies.items():
        before, after = report.shares[key]
        grid.add_row(key, str(n), f"{before:.0%}", f"{after:.0%}")
    console.print(grid if report.copies else f"every {by} already holds {to_share:.0%} of its label: "
                  "nothing to add")
    console.print(f"{report.total} augmented row{'s' if report.total != 1 else ''} added"
                  + (" (dry run: nothing written)" if dry_run else ""), highlight=False)


app.command("report", epilog=REPORT_EPILOG)(report_cmd)
app.command("export", epilog=EXPORT_EPILOG)(export_cmd)

from . import quality  # noqa: E402, F401  (registers label-issues and check on the app)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``curate`` console script."""
    raise SystemExit(run_app(app, argv, "curate"))
