"""What a collector writes to: the :class:`RowSink` protocol (:class:`manifests.Appender` implements it).

A collector ``add``\\ s rows (plain dicts keyed by :mod:`manifests.schema` names plus its own metadata
columns), ``flush``\\ es at points where what it added must be on disk, and ``mark``\\ s inputs it has
finished in the manifest's archive (:mod:`manifests.archive`); a mark is written only after the rows
added before it have been merged into the manifest, so a rerun never skips an input whose rows were
lost. ``archive`` answers what earlier runs finished. ``path`` is the manifest (its folder holds the
image store); ``details`` go into the run's lineage-log entry, for people, never read back to resume.
``declare_groups`` records the columns the collector writes that group related images, as the
manifest's own metadata (:mod:`manifests.groups`).

Library code that only produces rows (a video's frames for another collector) takes the smaller
:class:`Rows` protocol: anything with ``add``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .archive import Archive
    from .merge import MergeStats


class Rows(Protocol):
    """Anything rows can be added to."""

    def add(self, row: Mapping[str, Any]) -> None: ...


class RowSink(Rows, Protocol):
    """Where a collector's rows go: a manifest, in locked batches, with its archive of finished inputs."""

    path: Path
    details: dict[str, Any]  # what this run's lineage-log entry records (an audit trail, never read back)

    @property
    def stats(self) -> MergeStats:
        """What the rows flushed so far did to the manifest (added, already present, replaced)."""
        ...

    @property
    def archive(self) -> Archive:
        """The archive of inputs earlier runs finished (read it before starting)."""
        ...

    def flush(self) -> MergeStats:
        """Merge the rows added so far into the manifest now, then write pending marks."""
        ...

    def mark(self, collector: str, key: str, variant: str = "", info: Mapping[str, Any] | None = None
             ) -> None:
        """Record ``key`` as finished (with ``variant`` options) once the rows before it are merged."""
        ...

    def declare_groups(self, columns: Iterable[str], by: str) -> None:
        """Record ``columns`` as the manifest's group columns (:mod:`manifests.groups`) with the next
        flush: the columns this collector writes that group related images (a video, a post)."""
        ...
