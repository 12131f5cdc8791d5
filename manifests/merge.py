"""Merging new rows into a manifest, and measuring what a command changed.

Rows are identified by ``sha256`` when they hold usable bytes (``status == ok``): the same bytes from a
second source do not make a second row. Rows that failed (a 404, a corrupt file) have no trustworthy
identity of their own and are identified by ``(source, origin)``: a later attempt at the same origin
replaces the failed row, and a success anywhere removes failed rows for that origin.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from . import schema
from .io import conform


@dataclass(frozen=True)
class MergeStats:
    """What merging a batch of rows did."""

    added: int = 0
    already_present: int = 0
    replaced_failures: int = 0

    def __add__(self, other: MergeStats) -> MergeStats:
        return MergeStats(self.added + other.added, self.already_present + other.already_present,
                          self.replaced_failures + other.replaced_failures)

    def __sub__(self, other: MergeStats) -> MergeStats:
        return MergeStats(self.added - other.added, self.already_present - other.already_present,
                          self.replaced_failures - other.replaced_failures)


@dataclass(frozen=True)
class Changes:
    """Rows a command added, changed and removed, by row key."""

    added: int = 0
    changed: int = 0
    removed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"added": self.added, "changed": self.changed, "removed": self.removed}


def row_keys(frame: pd.DataFrame) -> pd.Series:
    """The identity of each row: ``sha256`` for ok rows, ``fail:<source>|<origin>`` for the rest."""
    ok = frame[schema.STATUS].fillna("") == schema.OK
    fallback = "fail:" + frame[schema.SOURCE].fillna("") + "|" + frame[schema.ORIGIN].fillna("")
    sha = frame[schema.SHA256]
    return sha.where(ok & sha.notna(), fallback).astype("string")


def _origin_keys(frame: pd.DataFrame) -> pd.Series:
    return (frame[schema.SOURCE].fillna("") + "|" + frame[schema.ORIGIN].fillna("")).astype("string")


def merge(existing: pd.DataFrame, new: pd.DataFrame) -> tuple[pd.DataFrame, MergeStats]:
    """Append ``new`` rows that are not already in ``existing``; first seen wins."""
    new = conform(new)
    if new.empty:
        return existing, MergeStats()
    new_keys = row_keys(new)
    keep_new = ~new_keys.duplicated()
    new, new_keys = new[keep_new.to_numpy()], new_keys[keep_new]
    old_keys = set(row_keys(existing)) if len(existing) else set()
    is_new = ~new_keys.isin(old_keys).to_numpy()
    fresh = new[is_new]
    already = int((~is_new).sum()) + int((~keep_new).sum())
    # Failed rows whose origin now succeeded, or that are tried again, go.
    replaced = 0
    if len(existing) and len(fresh):
        fresh_origins = set(_origin_keys(fresh))
        old_failed = existing[schema.STATUS].fillna("") != schema.OK
        stale = (old_failed & _origin_keys(existing).isin(fresh_origins)).to_numpy()
        replaced = int(stale.sum())
        existing = existing[~stale]
    parts = [f for f in (existing, fresh) if len(f)]
    merged = conform(pd.concat(parts, ignore_index=True)) if parts else existing
    return merged, MergeStats(added=len(fresh), already_present=already,
                              replaced_failures=replaced)


def _diff_keys(frame: pd.DataFrame) -> pd.Series:
    """Row identity for ``diff``: the bytes when known, whatever the status, else the origin."""
    fallback = "origin:" + _origin_keys(frame)
    return frame[schema.SHA256].fillna(fallback).astype("string")


def diff(old: pd.DataFrame, new: pd.DataFrame) -> Changes:
    """Count rows added, changed and removed between two versions of a manifest.

    A row whose status changed (``ok`` to ``duplicate``) is one changed row, not one removed and one
    added: rows are matched by ``sha256`` whatever their status.
    """
    old_k, new_k = _diff_keys(old), _diff_keys(new)
    old_i = old.set_axis(old_k.to_numpy())
    new_i = new.set_axis(new_k.to_numpy())
    old_i = old_i[~old_i.index.duplicated()]
    new_i = new_i[~new_i.index.duplicated()]
    common = old_i.index.intersection(new_i.index)
    added = len(new_i.index.difference(old_i.index))
    removed = len(old_i.index.difference(new_i.index))
    if not len(common):
        return Changes(added, 0, removed)
    cols = sorted(set(old_i.columns) | set(new_i.columns))
    a = old_i.reindex(index=common, columns=cols).astype("string").fillna("\0")
    b = new_i.reindex(index=common, columns=cols).astype("string").fillna("\0")
    changed = int((a != b).any(axis=1).sum())
    return Changes(added, changed, removed)
