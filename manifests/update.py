"""Changing a manifest safely: a lock, read-modify-write, an atomic write and a lineage entry.

``update`` is the one way to change a manifest::

    with update("manifest.csv", command="curate split ...") as tx:
        tx.frame = assign_splits(tx.frame)

``Appender`` is what collectors use (it implements :class:`manifests.sink.RowSink`): rows are buffered
and merged into the manifest in batches, each batch its own locked transaction, so a long harvest never
holds the lock for long, two harvests into one manifest both land their rows, and a killed run keeps
every batch it flushed. Inputs a collector marks as finished go to the manifest's archive
(:mod:`manifests.archive`) right after the rows added before them are merged.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import groups, io, lineage, schema
from .archive import Archive
from .lock import LOCK_TIMEOUT, LOCK_TIMEOUT_ENV, lock_path, lock_timeout, locked, remove_stale_temps
from .merge import Changes, MergeStats, diff, merge

log = logging.getLogger(__name__)

__all__ = ["LOCK_TIMEOUT", "LOCK_TIMEOUT_ENV", "Appender", "Transaction", "declare_groups", "lock_path",
           "lock_timeout", "locked", "remove_stale_temps", "update"]

def rebase_paths(frame: pd.DataFrame, source: Path, target: Path) -> pd.DataFrame:
    """Rewrite relative ``path`` values of a manifest at ``source`` for one written at ``target``."""
    src, dst = source.resolve().parent, target.resolve().parent
    if src == dst:
        return frame
    def moved(value: object) -> object:
        if not isinstance(value, str) or os.path.isabs(value):
            return value
        return os.path.relpath(src / value, dst).replace(os.sep, "/")
    frame = frame.copy()
    frame[schema.PATH] = frame[schema.PATH].map(moved, na_action="ignore").astype("string")
    return frame


@dataclass
class Transaction:
    """The state of one read-modify-write of a manifest."""

    path: Path
    original: pd.DataFrame
    frame: pd.DataFrame
    details: dict[str, Any] = field(default_factory=dict)
    changes: Changes = Changes()
    new_groups: dict[str, str] = field(default_factory=dict)

    def declare_groups(self, columns: Iterable[str], by: str) -> None:
        """Record ``columns`` as group columns of the manifest when the transaction commits."""
        self.new_groups.update({c: by for c in columns if c})


def declare_groups(manifest: str | os.PathLike[str], columns: Iterable[str], by: str,
                   timeout: float | None = None) -> None:
    """Record ``columns`` as group columns of a manifest (its sidecar), under the manifest's lock.

    Collectors call this for the columns they write (a search engine's ``creator``, say); the
    manifest then refuses random splits across them and training reports accuracy per value.
    """
    path = Path(manifest)
    with locked(path, timeout):
        frame = io.read(path)
        if _record_groups(path, groups.read_meta(path), dict.fromkeys(columns, by), frame) \
                and io.is_parquet(path) and path.exists():
            io.write(frame, path, conformed=True)  # the Parquet file's own copy of the metadata


def _record_groups(target: Path, meta: dict[str, Any], new: Mapping[str, str],
                   frame: pd.DataFrame) -> bool:
    """Write ``target``'s sidecar when ``new`` adds to ``meta``; the caller holds the lock.

    Returns whether the sidecar was written.
    """
    merged = groups.with_groups(meta, new, frame)
    if merged == meta and groups.meta_path(target).exists():
        return False
    if not merged.get(groups.GROUPS_KEY) and not meta:
        return False
    groups.write_meta(target, merged)
    return True


@contextmanager
def update(manifest: str | os.PathLike[str], command: str | None = None,
           output: str | os.PathLike[str] | None = None, dry_run: bool = False,
           timeout: float | None = None, require: tuple[str, ...] = ()) -> Iterator[Transaction]:
    """Lock, read, let the block change ``tx.frame``, then write atomically and log the change.

    ``output`` writes the result to another manifest and leaves the input untouched; relative
    ``path`` values are rebased onto the output's folder when it is written (the block sees them
    relative to the input's folder). ``require`` names the columns the command
    needs (see :func:`manifests.io.read`). Nothing is written when the block raises, when
    ``dry_run`` is true or when nothing changed.
    """
    target = Path(output) if output else Path(manifest)
    if output:
        io.check_target(target)
    with locked(target, timeout):
        original = io.read(manifest, require=require)
        tx = Transaction(Path(target), original, original.copy())
        yield tx
        tx.frame = io.conform(tx.frame)
        if output:
            tx.frame = rebase_paths(tx.frame, Path(manifest), target)
        before = io.read(target) if output else original
        tx.changes = diff(before, tx.frame)
        if dry_run:
            return
        wrote = _commit_groups(Path(manifest), Path(target), tx)
        if tx.changes == Changes() and target.exists() and not (wrote and io.is_parquet(target)):
            return
        io.write(tx.frame, target, conformed=True)
        lineage.append(target, command or lineage.command_line(), tx.changes, len(tx.frame),
                       tx.details)


def _commit_groups(source: Path, target: Path, tx: Transaction) -> bool:
    """The target's sidecar: the source's metadata plus the groups the transaction declared."""
    meta = groups.read_meta(source)
    if target == source and not tx.new_groups:
        return False
    target_meta = meta if target == source else groups.read_meta(target) if target.exists() else {}
    wrote = _record_groups(target, {**target_meta, **meta}, tx.new_groups, tx.original)
    groups.attach(tx.frame, groups.read_meta(target))
    return wrote
def merge_changes(stats: MergeStats) -> Changes:
    """Rows a merge changed: a failed row replaced by a success for its origin is a change."""
    changed = min(stats.added, stats.replaced_failures)
    return Changes(added=stats.added - changed, changed=changed,
                   removed=stats.replaced_failures - changed)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """A single manifest file's identity for :class:`Appender`'s cache (``None``: a folder or none)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


class Appender:
    """Buffers rows from a collector and merges them into the manifest in locked batches.

    A batch is flushed once it holds ``batch_size`` rows and ``interval`` seconds have passed since
    the last flush, once any row has waited ``max_delay`` seconds, or once it holds ``max_buffer``
    rows: a killed run loses at most ``max_delay`` seconds of work (plus the row being made), while
    a fast import does not rewrite a large manifest for every few hundred rows.

    Each flush made during the run appends a lineage entry for what it merged (marked
    ``"partial": true``), so a run that is killed still says what it wrote; ``close`` writes the
    entry for the rest, with the run's details.
    """

    def __init__(self, manifest: str | os.PathLike[str], batch_size: int = 200,
                 command: str | None = None, timeout: float | None = None,
                 interval: float = 5.0, max_buffer: int = 50_000, max_delay: float = 3.0) -> None:
        self.path = Path(manifest)
        io.check_target(self.path)
        self.batch_size = batch_size
        self.interval = interval
        self.max_delay = max_delay
        self.max_buffer = max_buffer
        self._last_flush = time.monotonic()
        self._rows = 0  # rows in the manifest after this appender's last flush
        self.command = command or lineage.command_line()
        self.timeout = timeout
        self.stats = MergeStats()
        self._logged = MergeStats()  # what lineage entries already account for
        self.details: dict[str, Any] = {}
        self.archive = Archive(self.path)
        self._buffer: list[Mapping[str, Any]] = []
        self._marks: dict[str, list[tuple[str, str, Mapping[str, Any] | None]]] = {}
        self._groups: dict[str, str] = {}
        self._known: tuple[tuple[int, int, int] | None, pd.DataFrame | None] = (None, None)

    def declare_groups(self, columns: Iterable[str], by: str) -> None:
        """Record ``columns`` as the manifest's group columns with the next flush (collectors call it)."""
        self._groups.update({c: by for c in columns if c and c not in self._groups})

    def add(self, row: Mapping[str, Any]) -> None:
        """Queue one row; flushes when the batch is full or the oldest row has waited too long."""
        self._buffer.append(row)
        n = len(self._buffer)
        elapsed = time.monotonic() - self._last_flush
        if (n >= self.batch_size and elapsed >= self.interval) or elapsed >= self.max_delay \
                or n >= self.max_buffer:
            self.flush()
            self._log({"partial": True})

    def mark(self, collector: str, key: str, variant: str = "",
             info: Mapping[str, Any] | None = None) -> None:
        """Record ``key`` as finished in the archive once the rows added before it are merged."""
        self._marks.setdefault(collector, []).append((key, variant, info))

    def flush(self) -> MergeStats:
        """Merge the buffered rows into the manifest now, then write the pending marks."""
        if self._buffer:
            stats = self._merge()
        else:
            stats = MergeStats()
            # With no manifest (a run that found nothing, or failed), nothing is declared and no lock
            # is taken: a failed first run leaves no sidecar or lock file behind it.
            if self._groups and self.path.exists():
                self._groups_only()
        self._last_flush = time.monotonic()
        marks, self._marks = self._marks, {}
        for collector, records in marks.items():
            self.archive.add_many(collector, records)
        return stats

    def _groups_only(self) -> None:
        """Record declared group columns when no row is new (a rerun with another --group-field)."""
        with locked(self.path, self.timeout):
            current = io.read(self.path)
            if self._commit_groups(current) and io.is_parquet(self.path) and self.path.exists():
                io.write(current, self.path, conformed=True)

    def _merge(self) -> MergeStats:
        batch = io.from_records(self._buffer)
        with locked(self.path, self.timeout):
            current = self._current()
            merged, stats = merge(current, batch)
            wrote = self._commit_groups(current)
            # Rows added is the one test: a failure is only replaced by an added row, and a batch
            # into a manifest that does not exist yet adds at least one (the file is created).
            if stats.added or (wrote and io.is_parquet(self.path)):
                io.write(merged, self.path, conformed=True)
            self._rows = len(merged)
            self._known = (_stamp(self.path), merged)
        self._buffer.clear()
        self.stats += stats
        return stats

    def _current(self) -> pd.DataFrame:
        """The manifest as it is now: what this appender last wrote when the file is still that one
        (same inode, size and modification time), else read again (another writer changed it)."""
        stamp, frame = self._known
        if stamp is not None and stamp == _stamp(self.path):
            return frame
        return io.read(self.path)

    def _commit_groups(self, current: pd.DataFrame) -> bool:
        """Record the declared groups (under the lock); whether the sidecar was written."""
        if not self._groups:
            return False
        wrote = _record_groups(self.path, groups.read_meta(self.path), self._groups, current)
        self._groups.clear()
        return wrote
    def _log(self, details: dict[str, Any], final: bool = False) -> None:
        """Append a lineage entry for what was merged since the last entry, if anything.

        The final entry carries the run's details, so it is written whenever the run changed the
        manifest at all, even when the partial entries already counted every row.
        """
        new = self.stats - self._logged
        changed_run = self.stats.added or self.stats.replaced_failures
        if not (new.added or new.replaced_failures or (final and changed_run and details)):
            return
        lineage.append(self.path, self.command, merge_changes(new), self._rows,
                       {"already_present": new.already_present, **details})
        self._logged = self.stats

    def close(self) -> MergeStats:
        """Flush what is left and write the lineage entry for the rest of the run."""
        self.flush()
        self._log(dict(self.details), final=True)
        return self.stats

    def __enter__(self) -> Appender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
