"""``curate gc``: delete the image-store files that no ``ok`` row uses any more.

Rows that stop being usable keep their files: a near-duplicate, an ``over_cap`` row, and the rows
``harvest reddit --recheck`` marks ``removed`` because their post was deleted at the source. ``gc``
lists the files under the dataset folder's image store (``images/``) that no ``ok`` row of the
manifest, nor of any other manifest in the same folder (a file with a lineage log beside it),
references. It deletes them only with ``delete=True`` (``--delete``; the default is a dry run that
lists them), never follows a link out of the store, and touches nothing outside it. Rows that
pointed at a deleted file keep their status and lose their ``path``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from manifests import lineage, read, schema, update
from manifests.store import STORE_DIR

from .contract import StageResult

LISTED = 20  # files named in the lines a person reads


@dataclass(frozen=True)
class GcOptions:
    """``delete``: really delete the unreferenced files (otherwise only list them)."""

    delete: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.delete, bool):
            from manifests import UsageError
            raise UsageError("GcOptions.delete takes True or False")


@dataclass
class GcResult(StageResult):
    """Files no ``ok`` row references: how many, their bytes, and whether they were deleted."""

    files: list[str] = field(default_factory=list)
    bytes: int = 0
    deleted: bool = False
    manifests: list[str] = field(default_factory=list)

    def data(self) -> dict[str, Any]:
        return {"files": len(self.files), "bytes": self.bytes, "deleted": self.deleted,
                "paths": list(self.files), "manifests": list(self.manifests)}

    def lines(self) -> list[str]:
        verb = "deleted" if self.deleted else "would delete (dry run; --delete deletes)"
        head = [f"{verb} {len(self.files)} files, {self.bytes} bytes, that no ok row of "
                f"{', '.join(self.manifests)} uses"]
        more = [f"  … and {len(self.files) - LISTED} more"] if len(self.files) > LISTED else []
        return head + [f"  {p}" for p in self.files[:LISTED]] + more


def _ok_paths(manifest: Path, frame: pd.DataFrame | None = None) -> set[Path]:
    """The files the ``ok`` rows of a manifest (or of ``frame``, its rows) name, resolved."""
    frame = read(manifest) if frame is None else frame
    ok = frame[(frame[schema.STATUS] == schema.OK)][schema.PATH].dropna().astype(str)
    return {(manifest.parent / p).resolve() for p in ok}


def _siblings(manifest: Path) -> list[Path]:
    """The manifest and the other manifests of its folder (those with a lineage log)."""
    found = [p for p in sorted(manifest.parent.iterdir()) if p != manifest
             and p.suffix in (".csv", ".parquet") and lineage.log_path(p).exists()]
    return [manifest, *found]


def _unreferenced(store: Path, used: set[Path]) -> list[Path]:
    """Files under ``store`` (links not followed) that no path in ``used`` names."""
    out = []
    for folder, dirs, names in os.walk(store, followlinks=False):
        for name in sorted(names):
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            if path.resolve() not in used and path.resolve().is_relative_to(store.resolve()):
                out.append(path)
        dirs.sort()
    return out


def gc(manifest: Path, options: GcOptions = GcOptions()) -> GcResult:
    """The ``curate gc`` stage: list (or delete) the store's files no ``ok`` row references."""
    manifest = Path(manifest)
    root = manifest.parent
    store = root / STORE_DIR
    sources = _siblings(manifest)
    used: set[Path] = set()
    for path in sources:
        used |= _ok_paths(path)
    result = GcResult(manifests=[p.name for p in sources], deleted=options.delete)
    if not store.is_dir() or store.is_symlink():
        return result
    doomed = _unreferenced(store, used)
    result.files = [p.relative_to(root).as_posix() for p in doomed]
    result.bytes = sum(p.stat().st_size for p in doomed)
    if not options.delete or not doomed:
        return result
    with update(manifest, lineage.command_line()) as tx:
        # under the manifest's lock, on its rows as they are now: a row another command merged since
        # the listing keeps its file
        used = _ok_paths(manifest, tx.frame).union(*(_ok_paths(p) for p in sources[1:]))
        doomed = [p for p in doomed if p.resolve() not in used]
        result.files = [p.relative_to(root).as_posix() for p in doomed]
        result.bytes = sum(p.stat().st_size for p in doomed)
        gone = set(result.files)
        for path in doomed:
            path.unlink(missing_ok=True)
        pointed = tx.frame[schema.PATH].isin(gone) & (tx.frame[schema.STATUS] != schema.OK)
        tx.frame.loc[pointed, schema.PATH] = None
        tx.details.update(gc={"files": len(doomed), "bytes": result.bytes})
    result.record(tx.changes)
    return result
