"""``curate stats``, ``curate balance`` and ``curate augment``: how rows spread, and evening them out.

Parse, call the stage, hand its result to :func:`.render.show`; the work is in :mod:`curate.stats`,
:mod:`curate.balance` and :mod:`curate.augment` (imported inside the commands: ``--help`` stays fast).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from manifests.cliargs import DEFAULT_MANIFEST, JsonOpt, ManifestArg, use_manifest

from .options import AUGMENT_OPS, Command, DryRunOpt, OutputOpt, SeedOpt, columns
from .render import show
from .views import augment_tables, balance_tables, stats_tables


def stats_cmd(
    manifest: ManifestArg = DEFAULT_MANIFEST,
    by: Annotated[str, typer.Option(help="Comma-separated columns to count rows by.")] = "label",
    as_json: JsonOpt = False,
) -> int:
    """Count rows by status and by any columns; two or more columns give a cross-tab."""
    from manifests import read

    from ..stats import StatsOptions, count

    options = StatsOptions(by=columns(by))
    return show(count(read(use_manifest(manifest)), options), as_json, stats_tables)


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
) -> int:
    """Count rows per cell of any columns, cap crowded cells and write sampling weights."""
    from manifests import update

    from ..balance import BalanceOptions, balance, table

    options = BalanceOptions(by=columns(by), min_per_cell=min_per_cell, max_per_cell=max_per_cell,
                             prefer=prefer, seed=seed, strategy=strategy)
    with update(use_manifest(manifest), output=output, dry_run=dry_run) as tx:
        tx.frame, report = balance(tx.frame, options)
        tx.details = {"by": list(options.by), "strategy": strategy, "max_per_cell": max_per_cell,
                      "prefer": prefer, "seed": seed, "over_cap": sum(report.capped.values())}
    report.record(tx.changes, dry_run)
    if plot:
        from ..heatmap import plot_heatmap  # matplotlib only when a plot is asked for

        plot_heatmap(table(report.before), plot, min_per_cell, f"ok rows per {' x '.join(options.by)}")
        report.plot = str(plot)
    return show(report, as_json, balance_tables)


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
) -> int:
    """Upsample scarce sources with augmented copies (new rows with derived_from), split-safe.

    Copies are written to the image store (images/) and keep their original's label and group
    columns; curate split puts every copy in its original's split. For sampling weights instead of
    new files, use curate balance --by label,source.
    """
    from manifests import update

    from ..augment import AugmentOptions, augment

    options = AugmentOptions(by=by, to_share=to_share, max_copies=max_copies, ops=columns(ops), seed=seed)
    path = use_manifest(manifest)
    with update(path, output=output, dry_run=dry_run) as tx:
        tx.frame, report = augment(tx.frame, path.resolve().parent, options, write=not dry_run)
        tx.details = {"by": by, "to_share": to_share, "ops": list(options.ops), "copies": report.copies}
    report.record(tx.changes, dry_run)
    return show(report, as_json, augment_tables)


STATS = Command("stats", stats_cmd,
                "Example:\n\n  curate stats data/manifest.csv --by label,street   # a cross-tab")
BALANCE = Command("balance", balance_cmd, """Examples:

  curate balance data/manifest.csv --by label,street --plot balance.png

  curate balance data/manifest.csv --by label,scene --max-per-cell 200 --prefer spread

  curate balance data/manifest.csv --by label,subreddit --strategy weight --json
""")
AUGMENT = Command("augment", augment_cmd, "Examples:\n\n"
                  "  curate augment ghibli/manifest.csv --by source --to-share 0.4\n\n"
                  "  curate augment data/manifest.csv --by engine --ops grayscale,invert --max-copies 2")
