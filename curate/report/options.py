"""The options and the result of ``curate report``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from manifests import UsageError

from ..contract import StageResult

MIN_THUMB = 16  # pixels: the smallest thumbnail side


@dataclass(frozen=True)
class ReportOptions:
    """What the report shows.

    Args:
        top: groups shown per heatmap; the others are summed into one "other (N)" column.
        per_cell: images per class and split in the contact sheet.
        clusters: duplicate clusters shown (mixed-label clusters first, then the largest).
        examples: example rows shown per failure reason and per leak.
        attribution: attribution rows listed (all of them go to ``curate export``'s ATTRIBUTION.md).
        thumb_size: longer side of a thumbnail in pixels.
        seed: picks the contact sheet's samples (the same seed shows the same images).
        workers: threads making thumbnails (default: 2 per CPU, at most 8).
        cache: keep thumbnails in ``.cache/thumbs/`` beside the manifest.
        thin: heatmap cells under this count are outlined.
        card: the dataset card the page links to (default: ``CARD.md`` beside the manifest, when it
            exists; ``curate card`` writes it).
    """

    top: int = 12
    per_cell: int = 6
    clusters: int = 24
    examples: int = 5
    attribution: int = 300
    thumb_size: int = 128
    seed: int = 0
    workers: int | None = None
    cache: bool = True
    thin: int = 5
    card: Path | None = None

    def __post_init__(self) -> None:
        for name, least in (("top", 1), ("per_cell", 0), ("clusters", 0), ("examples", 0),
                            ("attribution", 0), ("thumb_size", MIN_THUMB), ("thin", 0)):
            value = getattr(self, name)
            if value < least:
                raise UsageError(f"--{name.replace('_', '-')} must be at least {least}, not {value}")
        if self.workers is not None and self.workers < 1:
            raise UsageError(f"--workers must be at least 1, not {self.workers}")


@dataclass
class ReportResult(StageResult):
    """What was written: the page, its sections, rows and thumbnails."""

    path: Path
    rows: int
    ok: int
    sections: list[str] = field(default_factory=list)
    thumbnails: int = 0
    thumbnails_missing: int = 0
    files_missing: int = 0  # ok rows whose image file is not there
    seconds: float = 0.0

    def data(self) -> dict[str, Any]:
        return {**asdict(self), "path": str(self.path)}

    def lines(self) -> list[str]:
        missing = f", {self.thumbnails_missing} images did not open" if self.thumbnails_missing else ""
        gone = f" ({self.files_missing} of them with no image file)" if self.files_missing else ""
        return [f"report: {self.path} ({self.rows} rows, {self.ok} ok{gone}, {self.thumbnails} "
                f"thumbnails{missing}; {len(self.sections)} sections)"]
