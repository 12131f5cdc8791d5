"""``harvest``: collectors that append verified images and their metadata to a manifest.

The CLI only parses options, builds a collector from the registry and prints its summary; the work
is in :mod:`harvest.collectors`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from manifests import Appender, ExitStatus, schema
from manifests.console import RichProgress, print_json, run_app, setup_logging

from .collectors import COLLECTORS, FolderOptions
from .store import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, Limits
from .summary import RunSummary

app = typer.Typer(
    name="harvest", no_args_is_help=True, rich_markup_mode="rich",
    help="Collect images into a manifest (CSV, or Parquet by extension).\n\n"
         "Every collector verifies each image fully, stores its sha256, size and format, and merges "
         "rows by sha256, so running a command again adds only what is new.",
    epilog="Add --debug to any command to see the traceback of an error.")

ManifestOpt = Annotated[Path, typer.Option("--manifest", "-m", help="Manifest to append to "
                                           "(.csv, or .parquet for large ones).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the run summary as JSON on stdout.")]
WorkersOpt = Annotated[int | None, typer.Option("--workers", "-j", min=1,
                                                 help="Parallel workers (default: one per core).")]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Exit with status 3 when any item failed.")]
MaxPixelsOpt = Annotated[int, typer.Option("--max-pixels", help="Refuse images with more pixels "
                                           "(decompression bombs).")]
MaxBytesOpt = Annotated[int, typer.Option("--max-bytes", help="Refuse files larger than this.")]


@app.callback()
def _main(verbose: Annotated[int, typer.Option("--verbose", "-v", count=True,
                                               help="More log output (-vv for debug).")] = 0) -> None:
    setup_logging(verbose)


def _print_summary(summary: RunSummary, manifest: Path) -> None:
    console = Console(stderr=True)
    statuses = sorted(summary.statuses, key=lambda s: (s != schema.OK, s))
    table = Table(title=f"harvest {summary.source} → {manifest}")
    table.add_column("label")
    for status in statuses:
        table.add_column(status, justify="right", style="green" if status == schema.OK else "red")
    for label, counts in sorted(summary.by_label.items()):
        table.add_row(label, *(str(counts.get(s, 0)) for s in statuses))
    if summary.by_label:
        console.print(table)
    data = summary.to_dict()
    console.print(f"{data['added']} rows added, {data['already_present']} already present, "
                  f"{data['failed']} not usable (see status/error).", highlight=False)
    for reason, count in data["skipped"].items():
        shown = ", ".join(data["skipped_examples"][reason][:5])
        more = " …" if count > 5 else ""
        console.print(f"skipped {count} ({reason}): {shown}{more}", highlight=False)


def _finish(summary: RunSummary, manifest: Path, as_json: bool, strict: bool) -> int:
    if as_json:
        print_json({**summary.to_dict(), "manifest": str(manifest)})
    else:
        _print_summary(summary, manifest)
    return int(ExitStatus.PARTIAL if strict and summary.failed else ExitStatus.OK)


@app.command("folder", epilog="Examples:\n\n"
             "  harvest folder screenshots/ -m data/manifest.csv\n\n"
             "  harvest folder streets/ --pattern '{street}/cog_{suit}_{entity}_{n}.png' "
             "--label-field suit\n\n"
             "  harvest folder smash/ --pattern "
             "'{character}_{color}_{stage}_{orientation}_bg_on_{num:\\d+}.jpg' "
             "--label-field character --copy")
def folder(
    root: Annotated[Path, typer.Argument(help="Folder of images: class folders, optionally under "
                                         "train/ val/ test/.")],
    manifest: ManifestOpt = Path("manifest.csv"),
    pattern: Annotated[str | None, typer.Option(help="Path pattern whose {fields} become columns, "
                                                "e.g. '{street}/cog_{suit}_{n}.png'; "
                                                "{name:REGEX} for a custom match.")] = None,
    label_field: Annotated[str | None, typer.Option(help="Pattern field that holds the label.")] = None,
    label: Annotated[str | None, typer.Option(help="One label for every file.")] = None,
    copy: Annotated[bool, typer.Option("--copy", help="Copy files into the manifest's image store "
                                       "(images/) instead of referring to them in place.")] = False,
    workers: WorkersOpt = None,
    max_pixels: MaxPixelsOpt = DEFAULT_MAX_PIXELS,
    max_bytes: MaxBytesOpt = DEFAULT_MAX_BYTES,
    as_json: JsonOpt = False,
    strict: StrictOpt = False,
) -> int:
    """Import a folder of labelled images (ImageFolder layout or a path pattern).

    Labels come from each file's folder; a train/, val/ or test/ folder above it fills the split
    column. Corrupt, truncated and non-image files become rows with a status saying why; other files
    are skipped and counted.
    """
    options = FolderOptions(root=root, pattern=pattern, label_field=label_field, label=label,
                            copy=copy, workers=workers, limits=Limits(max_bytes, max_pixels))
    collector = COLLECTORS["folder"](options)
    with Appender(manifest) as sink, RichProgress(enabled=not as_json) as progress:
        summary = collector.run(sink, progress)
    return _finish(summary, manifest, as_json, strict)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``harvest`` console script."""
    raise SystemExit(run_app(app, argv, "harvest"))
