"""``curate report``, ``curate export`` and ``curate card``: parse, call the library, print.

Both take the manifest as an optional argument (``manifest.csv`` in the current folder by default) and
say which file they used. The report and export libraries are imported inside the commands, so
``curate --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from manifests import UsageError
from manifests.cliargs import DEFAULT_MANIFEST, JsonOpt, ManifestArg, use_manifest
from manifests.console import RichProgress

from .options import Command, SeedOpt, WorkersOpt, columns
from .render import show


def report_cmd(
    manifest: ManifestArg = DEFAULT_MANIFEST,
    out: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write.")] = Path("report.html"),
    top: Annotated[int, typer.Option(min=1, help="Groups per heatmap; the rest are summed as 'other'.")
                   ] = 12,
    per_cell: Annotated[int, typer.Option(min=0, help="Contact sheet images per class and split.")] = 6,
    clusters: Annotated[int, typer.Option(min=0, help="Duplicate clusters shown.")] = 24,
    thumb_size: Annotated[int, typer.Option(min=16, help="Longer side of a thumbnail, pixels.")] = 128,
    seed: SeedOpt = 0,
    workers: WorkersOpt = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not keep thumbnails in "
                                           ".cache/thumbs/ beside the manifest.")] = False,
    card: Annotated[Path | None, typer.Option(help="Dataset card to link to (default: CARD.md beside "
                                              "the manifest, when it exists).")] = None,
    as_json: JsonOpt = False,
) -> int:
    """Write one self-contained HTML page that shows the dataset (opens offline, no JavaScript).

    Counts per label, label x group heatmaps, splits, sources, sizes, a contact sheet per class and
    split, duplicate clusters, failed rows, label issues, leaks, attribution and the lineage log.
    """
    from ..report import ReportOptions, write_report

    options = ReportOptions(top=top, per_cell=per_cell, clusters=clusters, thumb_size=thumb_size,
                            seed=seed, workers=workers, cache=not no_cache, card=card)
    with RichProgress(enabled=not as_json) as progress:
        result = write_report(use_manifest(manifest), out, options, progress)
    return show(result, as_json)


def export_cmd(
    paths: Annotated[list[Path], typer.Argument(
        metavar="[MANIFEST] OUTDIR", show_default=False,
        help="The manifest (default manifest.csv in the current folder) and the folder to export into.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="imagefolder, hf, fastai, webdataset or "
                                     "csv.")] = "imagefolder",
    copy: Annotated[bool, typer.Option("--copy", help="Copy the images instead of hard-linking them.")
                    ] = False,
    resize: Annotated[int | None, typer.Option(min=8, help="Write resized copies, shorter side S "
                                               "pixels (never enlarged).", metavar="S")] = None,
    shard_size: Annotated[int, typer.Option(min=1, help="Samples per tar shard (webdataset).")] = 1000,
    include: Annotated[str, typer.Option(help="Also export rows with these statuses: duplicate, "
                                         "over_cap.")] = "",
    unsplit: Annotated[str | None, typer.Option(help="Split for rows without one (default: refuse).")
                       ] = None,
    license_allow: Annotated[str, typer.Option(
        "--license-allow", help="Keep only these licence codes: by, by-sa, by-nd, by-nc, by-nc-sa, "
        "by-nc-nd, cc0, pdm (rows without a licence pass).")] = "",
    no_noncommercial: Annotated[bool, typer.Option("--no-noncommercial", help="Leave out rows under a "
                                                   "non-commercial licence.")] = False,
    name: Annotated[str | None, typer.Option(help="The dataset's name on its card (default: the "
                                             "manifest's folder name).")] = None,
    as_json: JsonOpt = False,
) -> int:
    """Export the ok rows in a layout other trainers load; a re-export only writes what changed.

    Unsafe label names become safe folder names (classes.csv maps them); search rows keep attribution.
    A dataset card (README.md), croissant.json (Croissant 1.1 with the RAI fields) and
    records/<split>.csv describe what was exported.
    """
    from manifests import lineage_entries, read

    from ..export import ExportOptions, export

    if len(paths) > 2:
        raise UsageError("give at most two paths: [MANIFEST] OUTDIR")
    manifest, outdir = (paths[0], paths[1]) if len(paths) == 2 else (DEFAULT_MANIFEST, paths[0])
    options = ExportOptions(format=fmt, copy=copy, resize=resize, shard_size=shard_size,
                            include=columns(include), unsplit=unsplit, license_allow=columns(license_allow),
                            no_noncommercial=no_noncommercial, name=name)
    frame = read(use_manifest(manifest))
    with RichProgress(enabled=not as_json) as progress:
        report = export(frame, manifest.resolve().parent, outdir, options, progress,
                        lineage_entries(manifest))
    return show(report, as_json)


def card_cmd(
    manifest: ManifestArg = DEFAULT_MANIFEST,
    out: Annotated[Path, typer.Option("--output", "-o", help="Markdown file to write.")] = Path("CARD.md"),
    name: Annotated[str | None, typer.Option(help="The dataset's name (default: the manifest's folder "
                                             "name).")] = None,
    as_json: JsonOpt = False,
) -> int:
    """Write the dataset card of a manifest: sources, counts, curation, splits, licences, limitations.

    Written from the manifest and its lineage log, in Hugging Face's README.md format. `curate export`
    writes the same card for what it exports, with croissant.json beside it.
    """
    from ..card import CardOptions, write_card

    result = write_card(use_manifest(manifest), out, CardOptions(name=name))
    return show(result, as_json)


REPORT = Command("report", report_cmd, """Examples:

  curate report                                   # manifest.csv here -> report.html

  curate report data/manifest.csv -o data/report.html --seed 3 --top 20
""")
EXPORT = Command("export", export_cmd, """Examples:

  curate export data/manifest.csv out --format imagefolder          # hard links, split/label/file

  curate export data/manifest.csv out --format hf --resize 256      # resized copies, metadata.jsonl

  curate export shards --format webdataset --shard-size 5000    # manifest.csv here

  curate export data/manifest.csv out --format hf --license-allow by,by-sa,cc0,pdm
""")
CARD = Command("card", card_cmd, """Examples:

  curate card data/manifest.csv -o data/CARD.md

  curate card --name "ToonTown cogs" --json       # manifest.csv here -> CARD.md
""")
