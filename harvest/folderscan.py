"""Walking an imported folder safely, and keeping its rows true to the folder on a rerun.

``walk`` lists the files under a root the way ``harvest folder`` imports them, with the odd cases named
instead of crashing or reaching outside:

- a file name that is not valid UTF-8 (a byte from another encoding) cannot be written to a UTF-8
  manifest: it is skipped and named (``undecodable_name``, the bytes shown escaped);
- a symbolic link whose target lies outside the root is an ``outside_root`` entry (recorded as a row,
  never read) unless ``follow_links``; a symlinked *folder* is not entered (``symlinked_folder``,
  with a warning) unless ``follow_links``, and a link loop is entered once;
- the walk does not recurse (a 10,000-deep tree is walked as deep as paths can go; folders that
  cannot be listed are counted as ``unreadable_folder``).

``reconcile`` runs after an import: rows of files that changed since they were recorded become
``replaced`` (the row of the new content is the ``ok`` one) and rows of files that are gone become
``missing``, with the time noticed, so a manifest never claims files the folder no longer has.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from manifests import lineage, schema, update

from .summary import RunSummary


@dataclass(frozen=True)
class Entry:
    """One file found under the root; ``outside`` is the target of a link leading out of it."""

    path: Path
    rel: str
    outside: str | None = None


def shown(path: Path) -> str:
    """A path as printable text, undecodable bytes escaped (``\\xe9``)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _rel(path: Path, root: Path) -> str | None:
    rel = path.relative_to(root).as_posix()
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return rel


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def folders(root: Path, follow_links: bool,
            summary: RunSummary) -> Iterator[tuple[str, list[str], list[str]]]:
    """``os.walk(root, followlinks=follow_links)`` (top down; ``dirs`` may be pruned in place) without
    recursion: Python 3.11's walk recurses, so a 10,000-deep tree raised RecursionError. A folder that
    cannot be listed (too long a path, no permission) is counted as ``unreadable_folder``."""
    stack = [os.fspath(root)]
    while stack:
        top = stack.pop()
        dirs: list[str] = []
        names: list[str] = []
        try:
            with os.scandir(top) as found:
                for entry in found:
                    try:
                        os.lstat(entry.path)  # a path past PATH_MAX is listed but cannot be used
                        is_dir = entry.is_dir()
                    except OSError:
                        summary.skip("unreadable_folder", shown(Path(top)))
                        dirs, names = [], []
                        break
                    (dirs if is_dir else names).append(entry.name)
        except OSError:
            summary.skip("unreadable_folder", shown(Path(top)))
            continue
        yield top, dirs, names
        below = [os.path.join(top, d) for d in dirs]
        stack.extend(p for p in reversed(below) if follow_links or not os.path.islink(p))


def walk(root: Path, follow_links: bool, summary: RunSummary) -> Iterator[Entry]:
    """Every non-hidden file under ``root``, sorted; odd names, links and loops are counted in ``summary``."""
    real_root = root.resolve()
    visited: set[tuple[int, int]] = set()
    for folder, dirs, names in folders(root, follow_links, summary):
        here = Path(folder)
        try:
            st = os.stat(here)
        except OSError:
            summary.skip("unreadable_folder", shown(here))
            dirs[:] = []
            continue
        if (st.st_dev, st.st_ino) in visited:
            summary.skip("link_loop", shown(here))
            dirs[:] = []
            continue
        visited.add((st.st_dev, st.st_ino))
        kept = []
        for name in sorted(d for d in dirs if not d.startswith(".")):
            full = here / name
            if _rel(full, root) is None:
                summary.skip("undecodable_name", shown(full))
            elif full.is_symlink() and not follow_links:
                summary.skip("symlinked_folder", shown(full))
            else:
                kept.append(name)
        dirs[:] = kept
        for name in sorted(n for n in names if not n.startswith(".")):
            path = here / name
            rel = _rel(path, root)
            if rel is None:
                summary.skip("undecodable_name", shown(path))
                continue
            target = path.resolve()
            outside = None if follow_links or _inside(target, real_root) else str(target)
            yield Entry(path, rel, outside)


def outside_row(entry: Entry, root: Path) -> dict[str, object]:
    """The row of a symbolic link that leads out of the imported folder (its target is never read)."""
    return {schema.ORIGIN: str(entry.path.absolute()), schema.STATUS: schema.OUTSIDE_ROOT,
            schema.ERROR: f"symbolic link to {entry.outside}, outside {root} (--follow-links "
                          "imports it)"}


def reconcile(manifest: Path, root: Path, source: str, found: set[str],
              current: Mapping[str, str | None], command: str | None = None) -> dict[str, int]:
    """Mark rows of changed files ``replaced`` and rows of vanished files ``missing``.

    ``found`` holds the origins of every file the walk saw; ``current`` maps the origins read in this
    run to the sha256 of their bytes now (``None`` when they are no longer a usable image). Only rows
    of ``source`` under ``root`` are touched. Returns the counts.
    """
    prefix = str(root.resolve()) + os.sep
    counts = {schema.REPLACED: 0, schema.MISSING: 0}
    if not manifest.exists():
        return counts  # nothing recorded, nothing to reconcile (and no empty manifest created)
    with update(manifest, command=command) as tx:
        frame = tx.frame
        if frame.empty:
            return counts
        origin = frame[schema.ORIGIN].fillna("")
        mine = ((frame[schema.SOURCE] == source) & (frame[schema.STATUS] == schema.OK)
                & origin.str.startswith(prefix)).fillna(False).to_numpy()
        now = lineage.now()
        for i in mine.nonzero()[0]:
            key, sha = origin.iloc[i], frame[schema.SHA256].iloc[i]
            if key not in found:
                status, error = schema.MISSING, f"the file was gone at {now}"
            elif key in current and current[key] != sha:
                status = schema.REPLACED
                new = current[key]
                error = (f"the file changed at {now}; its new content is row {new[:12]}" if new else
                         f"the file changed at {now} and is no longer a usable image")
            else:
                continue
            frame.iloc[i, frame.columns.get_loc(schema.STATUS)] = status
            frame.iloc[i, frame.columns.get_loc(schema.ERROR)] = error
            counts[status] += 1
        tx.frame = frame
        tx.details = {"reconciled": counts}
    return counts
