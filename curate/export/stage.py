"""``curate export``: hand the dataset to another trainer in the layout it loads (the orchestrator).

:func:`export` selects the rows to export (``status=ok``; duplicates and over-cap rows only when asked),
gives each label a safe folder name (the mapping goes to ``classes.csv``), plans where every image goes,
and lets the chosen format (:mod:`curate.export.formats`, a registry) write it with the file helpers
of :mod:`curate.export.files` (hard links, copies or resized copies; an incremental re-export). Search
rows carry their attribution into ``ATTRIBUTION.md``.

Example::

    from curate.export import ExportOptions, export
    report = export(frame, Path("data"), Path("out"), ExportOptions(format="hf"))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from manifests import InputError, UsageError, schema
from manifests.progress import Progress

from ..card import ExportCard, LicenseFilter
from ..card.licenses import apply_filter
from .files import Item, check_split, dataset_file, safe_name, safe_names, safe_suffix
from .formats import FORMATS, exporter
from .result import ExportReport

INCLUDABLE = (schema.DUPLICATE, schema.OVER_CAP)
MIN_RESIZE = 8  # pixels: the smallest shorter side --resize takes


@dataclass(frozen=True)
class ExportOptions:
    """How to export.

    Args:
        format: a name in :data:`curate.export.formats.FORMATS`.
        copy: copy the files instead of hard-linking them.
        resize: write resized copies whose shorter side is this many pixels (never enlarged).
        shard_size: samples per tar shard (webdataset).
        include: statuses exported besides ok (``duplicate``, ``over_cap``).
        unsplit: split for rows without one (default: refuse and say to run ``curate split``).
        license_allow: licence codes kept (``by``, ``by-sa``, ``cc0``...; rows without a licence pass).
        no_noncommercial: leave out rows under a non-commercial licence.
        name: the dataset's name on its card (default: the manifest's folder name).
    """

    format: str = "imagefolder"
    copy: bool = False
    resize: int | None = None
    shard_size: int = 1000
    include: tuple[str, ...] = ()
    unsplit: str | None = None
    license_allow: tuple[str, ...] = ()
    no_noncommercial: bool = False
    name: str | None = None

    def __post_init__(self) -> None:
        LicenseFilter(self.license_allow, self.no_noncommercial)  # unknown codes raise UsageError
        if self.format not in FORMATS:
            raise UsageError(f"unknown --format {self.format!r} (choose from {', '.join(FORMATS)})")
        if self.resize is not None and self.resize < MIN_RESIZE:
            raise UsageError(f"--resize must be at least {MIN_RESIZE} pixels, not {self.resize}")
        if self.shard_size < 1:
            raise UsageError(f"--shard-size must be at least 1, not {self.shard_size}")
        bad = [s for s in self.include if s not in INCLUDABLE]
        if bad:
            raise UsageError(f"cannot include status {bad[0]!r} (choose from {', '.join(INCLUDABLE)})")
        if self.unsplit is not None and not self.unsplit.strip():
            raise UsageError("--unsplit takes a split name, e.g. train")
        if self.unsplit is not None:
            try:
                check_split(self.unsplit, "--unsplit")
            except InputError as exc:
                raise UsageError(str(exc)) from None


def select(frame: pd.DataFrame, options: ExportOptions) -> pd.DataFrame:
    """The rows to export: ok rows (plus the included statuses) with a path and a label."""
    rows = frame[frame[schema.STATUS].isin([schema.OK, *options.include])]
    rows = rows[rows[schema.PATH].notna() & rows[schema.LABEL].notna()]
    if rows.empty:
        raise InputError("no ok rows with a path and a label to export")
    split = rows[schema.SPLIT] if schema.SPLIT in rows else pd.Series(pd.NA, index=rows.index)
    missing = int(split.isna().sum())
    if missing and not options.unsplit:
        raise InputError(f"{missing} rows to export have no split: run `curate split` first, or "
                         "pass --unsplit train to export them as one split")
    rows = rows.copy()
    rows[schema.SPLIT] = split.astype("string").fillna(options.unsplit or "")
    for value in rows[schema.SPLIT].unique():
        check_split(str(value))
    return rows


def plan(rows: pd.DataFrame, root: Path) -> tuple[list[Item], dict[str, str]]:
    """Where each row goes: split, safe label folder, a unique readable file name."""
    labels = rows[schema.LABEL].astype(str).tolist()
    folders = safe_names(sorted(set(labels)))
    shas = rows[schema.SHA256].astype("string").fillna("").tolist()
    origins = (rows[schema.ORIGIN].astype(object).where(rows[schema.ORIGIN].notna(), None).tolist()
               if schema.ORIGIN in rows else [None] * len(rows))
    items, outside = [], []
    for index, path, sha, split, label, origin in zip(rows.index, rows[schema.PATH].astype(str), shas,
                                                      rows[schema.SPLIT].astype(str), labels, origins,
                                                      strict=True):
        src = dataset_file(root, path, origin)
        if src is None or (not sha and not src.is_relative_to(root.resolve())):
            outside.append(path)
            continue
        tag = safe_name(sha[:10] or str(index))
        items.append(Item(index, src, sha, split, label, folders[label],
                          f"{safe_name(Path(path).stem)[:60]}-{tag}{safe_suffix(Path(path))}"))
    if outside:
        raise InputError(f"{len(outside)} rows name files outside the dataset folder {root} (first: "
                         f"{outside[0][:200]!r}): nothing exported; fix their paths or import the files")
    return items, folders


def check_outdir(outdir: Path) -> None:
    """Refuse, before any work, an output path that exists and is not a folder."""
    if outdir.exists() and not outdir.is_dir():
        raise InputError(f"{outdir} is a file, not a folder: name a new or existing folder to export "
                         "into")


def export(frame: pd.DataFrame, root: Path, outdir: Path, options: ExportOptions,
           progress: Progress | None = None, lineage: list[dict[str, Any]] | None = None) -> ExportReport:
    """Export the rows of ``frame`` (image paths relative to ``root``) to ``outdir`` in ``options.format``,
    with a dataset card (README.md, croissant.json) written from them and the ``lineage`` log."""
    fmt = exporter(options.format)
    check_outdir(outdir)
    rule = LicenseFilter(options.license_allow, options.no_noncommercial)
    rows, excluded = apply_filter(select(frame, options), rule)
    if rows.empty:
        raise InputError(f"{rule.describe()} leaves no row to export ({sum(excluded.values())} excluded)")
    items, folders = plan(rows, root)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the export folder {outdir}: {exc.strerror or exc}") from exc
    report = ExportReport(outdir, options.format, rows=len(rows))
    report.per_split = {s: {k: int(v) for k, v in g[schema.LABEL].value_counts().sort_index().items()}
                        for s, g in rows.groupby(schema.SPLIT, sort=True)}
    report.renamed_labels = {k: v for k, v in folders.items() if k != v}
    report.excluded_by_license = excluded
    card = ExportCard(frame, list(lineage or []), options.name or root.resolve().name, excluded,
                      rule.describe(), options.resize)
    fmt.write(rows, items, folders, outdir, options, report, progress, card)
    return report
