"""``curate report`` and ``curate export``: parse, call the library, print (registered in ``cli.py``).

Both take the manifest as an optional argument (``manifest.csv`` in the current folder by default) and
say which file they used. The report and export libraries are imported inside the commands, so
``curate --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from manifests import UsageError
from manifests.cliargs import DEFAULT_MANIFEST, ManifestArg, use_manifest
from manifests.console import RichProgress, print_json

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
SeedOpt = Annotated[int, typer.Option(help="Seed: the same manifest and seed give the same result.")]
SHOWN = 30  # failed exports printed


def _columns(text: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in text.split(",") if c.strip())


REPORT_EPILOG = """Examples:

  curate report                                   # manifest.csv here -> report.html

  curate report data/manifest.csv -o data/report.html --seed 3 --top 20
"""


def report_cmd(
    manifest: ManifestArg = DEFAULT_MANIFEST,
    out: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write.")] = Path("report.html"),
    top: Annotated[int, typer.Option(min=1, help="Groups per heatmap; the rest are summed as 'other'.")
                   ] = 12,
    per_cell: Annotated[int, typer.Option(min=0, help="Contact sheet images per class and split.")] = 6,
    clusters: Annotated[int, typer.Option(min=0, help="Duplicate clusters shown.")] = 24,
    thumb_size: Annotated[int, typer.Option(min=16, help="Longer side of a thumbnail, pixels.")] = 128,
    seed: SeedOpt = 0,
    workers: Annotated[int | None, typer.Option("--workers", "-j", min=1, help="Threads making "
                                                "thumbnails (default 2 per CPU, at most 8).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not keep thumbnails in "
                                           ".cache/thumbs/ beside the manifest.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write one self-contained HTML page that shows the dataset (opens offline, no JavaScript).

    Counts per label, label x group heatmaps, splits, sources, sizes, a contact sheet per class and
    split, duplicate clusters, failed rows, label issues, leaks, attribution and the lineage log.
    """
    from ..report import ReportOptions, write_report

    options = ReportOptions(top=top, per_cell=per_cell, clusters=clusters, thumb_size=thumb_size,
                            seed=seed, workers=workers, cache=not no_cache)
    with RichProgress(enabled=not as_json) as progress:
        result = write_report(use_manifest(manifest), out, options, progress)
    if as_json:
        print_json(result.to_dict())
        return
    missing = f", {result.thumbnails_missing} images did not open" if result.thumbnails_missing else ""
    Console().print(f"report: {out} ({result.rows} rows, {result.ok} ok, {result.thumbnails} "
                    f"thumbnails{missing}; {len(result.sections)} sections)", highlight=False)


EXPORT_EPILOG = """Examples:

  curate export data/manifest.csv out --format imagefolder          # hard links, split/label/file

  curate export data/manifest.csv out --format hf --resize 256      # resized copies, metadata.jsonl

  curate export shards --format webdataset --shard-size 5000    # manifest.csv here
"""


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
    as_json: JsonOpt = False,
) -> None:
    """Export the ok rows in a layout other trainers load; a re-export only writes what changed.

    Unsafe label names become safe folder names (classes.csv maps them); search rows keep attribution.
    """
    from manifests import read

    from ..export import ExportOptions, export

    if len(paths) > 2:
        raise UsageError("give at most two paths: [MANIFEST] OUTDIR")
    manifest, outdir = (paths[0], paths[1]) if len(paths) == 2 else (DEFAULT_MANIFEST, paths[0])
    options = ExportOptions(format=fmt, copy=copy, resize=resize, shard_size=shard_size,
                            include=_columns(include), unsplit=unsplit)
    frame = read(use_manifest(manifest))
    with RichProgress(enabled=not as_json) as progress:
        report = export(frame, manifest.resolve().parent, outdir, options, progress)
    if as_json:
        print_json(report.to_dict())
        return
    _print_export(report)


def _print_export(report: Any) -> None:
    console = Console()
    splits = ", ".join(f"{s} {sum(c.values())}" for s, c in report.per_split.items())
    console.print(f"{report.format} export in {report.outdir}: {report.rows} images ({splits}); "
                  f"{report.written} written ({report.linked} hard-linked), {report.kept} unchanged, "
                  f"{report.removed} removed", highlight=False, soft_wrap=True)
    for label, folder in report.renamed_labels.items():
        console.print(f"label {label!r} is in folder {folder!r} (classes.csv)", highlight=False)
    for line in report.failed[:SHOWN]:
        console.print(f"[yellow]not exported:[/] {line}", highlight=False, soft_wrap=True)
    console.print("files: " + ", ".join(report.files), highlight=False, soft_wrap=True)
