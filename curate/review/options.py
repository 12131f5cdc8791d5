"""The options of ``curate review`` and what it says before it serves: :class:`ReviewOptions`,
:func:`summarize` and :class:`ReviewResult`.

Nothing here imports the web stack: ``curate review --check`` and the stage registry
(:mod:`curate.stages`) use this module without the ``review`` extra installed.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from manifests import InputError, UsageError

from ..contract import StageResult

PREDICTIONS = "predictions.csv"  # what `train` writes to its run folder (train.outputs)


@dataclass(frozen=True)
class ReviewOptions:
    """Options of ``curate review``.

    Args:
        port: the port on 127.0.0.1 (0: a free one).
        token: the secret every request carries (default: a new random one per start).
        run: a ``train`` run folder whose ``predictions.csv`` feeds the model-mistakes view.
        thumb_size: longer side of a thumbnail in pixels (the report's cache, ``.cache/thumbs/SIZE``).
        page_size: cards per page of the grid (the page loads the next one as you scroll).
        batch_seconds: how long a decision waits for others before the batch is written.
        lock_wait: seconds a batch waits for the manifest's lock before it is tried again.
        thumb_workers: threads that make thumbnails.
    """

    port: int = 0
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    run: Path | None = None
    thumb_size: int = 128
    page_size: int = 120
    batch_seconds: float = 1.0
    lock_wait: float = 5.0
    thumb_workers: int = 4

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise UsageError(f"--port {self.port}: give 0 (a free port) or a port up to 65535")
        if len(self.token) < 16:
            raise UsageError("--token: give at least 16 characters (or leave it out: a random one)")
        if not 16 <= self.thumb_size <= 1024:
            raise UsageError(f"--thumb-size {self.thumb_size}: give 16 to 1024 pixels")
        if not 1 <= self.page_size <= 1000:
            raise UsageError(f"--page-size {self.page_size}: give 1 to 1000 cards")
        if not 0 <= self.batch_seconds <= 30:
            raise UsageError(f"--batch-seconds {self.batch_seconds}: give 0 to 30 seconds")
        if not 0 < self.lock_wait <= 600 or self.thumb_workers < 1:
            raise UsageError("lock_wait must be 0-600 seconds and thumb_workers at least 1")

    def predictions(self) -> Path | None:
        """The run's ``predictions.csv``, or None without ``--run``; a run without one is an InputError."""
        if self.run is None:
            return None
        path = self.run / PREDICTIONS
        if not path.is_file():
            raise InputError(f"{self.run} has no {PREDICTIONS}; give a folder `train ... --out` wrote")
        return path


@dataclass
class ReviewResult(StageResult):
    """What the app opens on: rows, images, label issues, clusters, mistakes; and its URL once serving."""

    manifest: str
    rows: int
    images: int
    classes: list[str]
    label_issues: int
    clusters: int
    mixed_clusters: int
    mistakes: int | None = None
    url: str | None = None

    def data(self) -> dict[str, Any]:
        return {"manifest": self.manifest, "rows": self.rows, "images": self.images,
                "classes": self.classes, "label_issues": self.label_issues, "clusters": self.clusters,
                "mixed_clusters": self.mixed_clusters, "mistakes": self.mistakes, "url": self.url}

    def lines(self) -> list[str]:
        said = (f"{self.rows} rows, {self.images} with an image, {len(self.classes)} labels; "
                f"{_n(self.label_issues, 'label issue')}, {_n(self.clusters, 'duplicate cluster')} "
                f"({self.mixed_clusters} with mixed labels)")
        if self.mistakes is not None:
            said += f", {self.mistakes} model mistakes"
        out = [said + "."]
        if self.url:
            out += [f"review at {self.url}", "decisions are saved to the manifest as you make them; "
                    "Ctrl-C stops the server"]
        return out


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def summarize(manifest: Path, options: ReviewOptions) -> ReviewResult:
    """Read the manifest (and the run's predictions) as the app would, and say what it would show."""
    from .rows import RowStore

    return ReviewResult(**RowStore(Path(manifest), options.predictions()).counts())
