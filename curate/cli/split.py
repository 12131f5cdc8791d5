"""``curate split``: parse, call :func:`curate.split.assign_splits`, print its report."""

from __future__ import annotations

from typing import Annotated

import typer

from manifests.cliargs import DEFAULT_MANIFEST, JsonOpt, ManifestArg, use_manifest

from .options import Command, DryRunOpt, OutputOpt, SeedOpt, columns
from .render import show
from .views import split_tables


def split_cmd(
    manifest: ManifestArg = DEFAULT_MANIFEST,
    group_by: Annotated[str, typer.Option(
        help="Column(s) whose values never cross splits (street, scene, post_id, video,creator: rows "
             "sharing a value of any of them are one group); 'scene|creator' groups each row by the "
             "first of them it has (frames by scene, fan art by creator). Recorded as the manifest's "
             "group columns.")] = "",
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
) -> int:
    """Write a leak-free train/val/test split: whole groups, near-duplicates together, stratified."""
    from manifests import update

    from ..split import SplitOptions, assign_splits, group_columns_of, parse_ratios, read_pins

    groups = columns(group_by)
    options = SplitOptions(group_by=groups, ratios=parse_ratios(ratios), stratify=stratify or None,
                           seed=seed, pins=read_pins(pin or [], groups), force=force, random=random)
    needs = (options.stratify,) if options.stratify else ()  # every usable row needs its class
    with update(use_manifest(manifest), output=output, dry_run=dry_run, require=needs) as tx:
        tx.frame, report = assign_splits(tx.frame, options)
        tx.declare_groups(group_columns_of(groups), "curate split --group-by")
        tx.details = {"group_by": list(groups), "ratios": list(options.ratios), "stratify": stratify,
                      "seed": seed, "pinned": report.pinned, "force": force, "random": random,
                      "max_deviation": round(report.deviation, 6)}
    report.record(tx.changes, dry_run)
    return show(report, as_json, split_tables)


SPLIT = Command("split", split_cmd, """Examples:

  curate split --group-by street   # manifest.csv in the current folder

  curate split data/manifest.csv --group-by street

  curate split data/manifest.csv --group-by video,scene --ratios 0.8,0.2 --pin val=my_scenes.txt

  curate split studios/manifest.csv --group-by 'scene|creator'   # frames by scene, fan art by creator

  curate split data/manifest.csv --random --seed 3 --json   # no group column: rows one by one
""")
