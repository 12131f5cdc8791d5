"""``curate export``: hand the dataset to another trainer in the layout it loads.

:func:`export` selects the rows to export (``status=ok``; duplicates and over-cap rows only when asked),
gives each label a safe folder name (the mapping goes to ``classes.csv``), plans where every image goes,
and lets the chosen format (:mod:`curate.export_formats`, a registry) write it. Images are hard-linked
by default (copied when the output is on another file system), copied with ``copy=True`` or resized to
a shorter side of ``resize`` pixels. Search rows carry their attribution into ``ATTRIBUTION.md``.

A re-export into the same folder is incremental: ``.gleanset-export.json`` records what the last export
wrote (file -> sha256); files that are still right are kept, new ones are written and files of the last
export that are no longer wanted are removed. Nothing else in the folder is ever deleted or overwritten.

Example::

    from curate.export import ExportOptions, export
    report = export(frame, Path("data"), Path("out"), ExportOptions(format="hf"))
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image, ImageOps

from manifests import InputError, schema
from manifests.progress import Progress

from .. import columns as cols
from ..tables import natural_sorted

log = logging.getLogger(__name__)

STATE = ".gleanset-export.json"
LABELS_FILE = "classes.csv"
ATTRIBUTION_FILE = "ATTRIBUTION.md"
INCLUDABLE = (schema.DUPLICATE, schema.OVER_CAP)
_UNSAFE = re.compile(r"[^\w.\- ]+")
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}
_KEEP_FORMAT = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}


@dataclass(frozen=True)
class ExportOptions:
    """How to export.

    Args:
        format: a name in :data:`curate.export_formats.FORMATS`.
        copy: copy the files instead of hard-linking them.
        resize: write resized copies whose shorter side is this many pixels (never enlarged).
        shard_size: samples per tar shard (webdataset).
        include: statuses exported besides ok (``duplicate``, ``over_cap``).
        unsplit: split for rows without one (default: refuse and say to run ``curate split``).
    """

    format: str = "imagefolder"
    copy: bool = False
    resize: int | None = None
    shard_size: int = 1000
    include: tuple[str, ...] = ()
    unsplit: str | None = None


@dataclass(frozen=True)
class Item:
    """One image to export: its row, source file, split, label (and safe folder) and file name."""

    index: Any
    src: Path
    sha256: str
    split: str
    label: str
    folder: str
    name: str


@dataclass
class ExportReport:
    """What an export did."""

    outdir: Path
    format: str
    rows: int = 0
    per_split: dict[str, dict[str, int]] = field(default_factory=dict)
    written: int = 0
    kept: int = 0
    removed: int = 0
    linked: int = 0
    copied: int = 0
    files: list[str] = field(default_factory=list)  # metadata files written
    failed: list[str] = field(default_factory=list)  # "path: why" of images that could not be exported
    renamed_labels: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "outdir": str(self.outdir)}


def safe_name(label: str) -> str:
    """A folder name for a label on every common file system (no separators, no reserved names)."""
    name = _UNSAFE.sub("_", label).strip(" .") or "_"
    if name.split(".")[0].upper() in _RESERVED:
        name = "_" + name
    return name[:100]


def safe_names(labels: list[str]) -> dict[str, str]:
    """Label -> folder name, unique (a clash gets ``_2``, ``_3``...) and stable for the same labels."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for label in natural_sorted(labels):
        base = name = safe_name(label)
        n = 2
        while name.lower() in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name.lower())
        out[label] = name
    return out


def select(frame: pd.DataFrame, options: ExportOptions) -> pd.DataFrame:
    """The rows to export: ok rows (plus the included statuses) with a path and a label."""
    bad = [s for s in options.include if s not in INCLUDABLE]
    if bad:
        raise InputError(f"cannot include status {bad[0]!r} (choose from {', '.join(INCLUDABLE)})")
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
    return rows


def plan(rows: pd.DataFrame, root: Path) -> tuple[list[Item], dict[str, str]]:
    """Where each row goes: split, safe label folder, a unique readable file name."""
    labels = rows[schema.LABEL].astype(str).tolist()
    folders = safe_names(sorted(set(labels)))
    shas = rows[schema.SHA256].astype("string").fillna("").tolist()
    items = []
    for index, path, sha, split, label in zip(rows.index, rows[schema.PATH].astype(str), shas,
                                              rows[schema.SPLIT].astype(str), labels, strict=True):
        src = root / path
        tag = sha[:10] or safe_name(str(index))
        items.append(Item(index, src, sha, split, label, folders[label],
                          f"{safe_name(src.stem)[:60]}-{tag}{src.suffix.lower()}"))
    return items, folders


def read_state(outdir: Path) -> dict[str, Any]:
    path = outdir / STATE
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def write_state(outdir: Path, state: dict[str, Any]) -> None:
    tmp = outdir / (STATE + ".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(outdir / STATE)


def resized_name(name: str, src: Path) -> str:
    """The file name of a resized copy: formats other than JPEG/PNG/WebP are written as PNG."""
    with Image.open(src) as img:
        suffix = _KEEP_FORMAT.get(img.format or "", ".png")
    return str(Path(name).with_suffix(suffix))


def place(src: Path, dst: Path, options: ExportOptions) -> str:
    """Put one image at ``dst``: ``resized``, ``linked`` or ``copied``."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".part")
    if options.resize:
        with Image.open(src) as img:
            fmt = img.format if img.format in _KEEP_FORMAT else "PNG"
            out = ImageOps.exif_transpose(img)
            scale = options.resize / min(out.size)
            if scale < 1:
                out = out.resize((max(1, round(out.width * scale)), max(1, round(out.height * scale))),
                                 Image.Resampling.LANCZOS)
            if fmt == "JPEG" and out.mode not in ("RGB", "L"):
                out = out.convert("RGB")
            out.save(tmp, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
        tmp.replace(dst)
        return "resized"
    if not options.copy:
        try:
            if dst.exists():
                dst.unlink()
            os.link(src, dst)
            return "linked"
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES):
                raise
            log.debug("cannot hard-link %s (%s): copying", src, exc)
    shutil.copy2(src, tmp)
    tmp.replace(dst)
    return "copied"


def remove_stale(outdir: Path, old: dict[str, str], new: dict[str, str]) -> int:
    """Delete files the last export wrote that this one does not want (only those); empty folders too."""
    removed = 0
    for rel in set(old) - set(new):
        path = outdir / rel
        if path.is_file():
            path.unlink()
            removed += 1
        parent = path.parent
        while parent != outdir and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
    return removed


def check_foreign(outdir: Path, wanted: dict[str, str], old: dict[str, str]) -> None:
    """Refuse to overwrite a file that the last export did not write."""
    for rel in wanted:
        if rel not in old and (outdir / rel).exists():
            raise InputError(f"{outdir / rel} exists and was not written by curate export: "
                             "export into an empty folder (nothing there is overwritten)")


def metadata(rows: pd.DataFrame) -> list[str]:
    """Columns carried as per-image metadata: identity, source, groups and attribution present."""
    wanted = [schema.SHA256, schema.SOURCE, schema.ORIGIN, schema.WIDTH, schema.HEIGHT,
              *cols.group_columns(rows), *cols.ATTRIBUTION]
    return [c for c in dict.fromkeys(wanted) if c in rows.columns and rows[c].notna().any()]


def write_attribution(outdir: Path, rows: pd.DataFrame, rel_of: dict[Any, str]) -> str:
    """ATTRIBUTION.md: one line per exported search row (file, title, creator, licence, page)."""
    search = rows[cols.is_search(rows)]
    lines = ["# Attribution", "", "Images from image searches, with their creators and licences "
             "(written by `curate export`).", "",
             "| file | title | creator | licence | page |", "|---|---|---|---|---|"]

    def cell(row: pd.Series, col: str, link: str | None = None) -> str:
        text = str(row[col]) if col in row.index and pd.notna(row[col]) else ""
        url = str(row[link]) if link and link in row.index and pd.notna(row[link]) else ""
        text = text.replace("|", "\\|").replace("\n", " ")
        return f"[{text or url}]({url})" if url else text

    for index, row in search.iterrows():
        lines.append(f"| {rel_of.get(index, '')} | {cell(row, schema.TITLE)} | "
                     f"{cell(row, cols.CREATOR, cols.CREATOR_URL)} | "
                     f"{cell(row, schema.LICENSE, cols.LICENSE_URL)} | {cell(row, cols.PAGE_URL)} |")
    (outdir / ATTRIBUTION_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ATTRIBUTION_FILE


def write_labels(outdir: Path, folders: dict[str, str]) -> str:
    """classes.csv: label, folder and class index (the sorted folder order torchvision uses)."""
    order = {f: i for i, f in enumerate(sorted(folders.values()))}
    frame = pd.DataFrame({"label": list(folders), "folder": list(folders.values()),
                          "index": [order[f] for f in folders.values()]}).sort_values("index")
    frame.to_csv(outdir / LABELS_FILE, index=False)
    return LABELS_FILE


def export(frame: pd.DataFrame, root: Path, outdir: Path, options: ExportOptions,
           progress: Progress | None = None) -> ExportReport:
    """Export the rows of ``frame`` (image paths relative to ``root``) to ``outdir`` in ``options.format``."""
    from .formats import exporter  # the registry imports this module's helpers

    fmt = exporter(options.format)
    rows = select(frame, options)
    items, folders = plan(rows, root)
    outdir.mkdir(parents=True, exist_ok=True)
    report = ExportReport(outdir, options.format, rows=len(rows))
    report.per_split = {s: {k: int(v) for k, v in g[schema.LABEL].value_counts().sort_index().items()}
                        for s, g in rows.groupby(schema.SPLIT, sort=True)}
    report.renamed_labels = {k: v for k, v in folders.items() if k != v}
    fmt.write(rows, items, folders, outdir, options, report, progress)
    return report
