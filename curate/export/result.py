"""What ``curate export`` did: images written, kept, removed, metadata files and failures."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from manifests import ExitStatus

from ..contract import StageResult

SHOWN = 30  # failed exports printed


@dataclass
class ExportReport(StageResult):
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
    excluded_by_license: dict[str, int] = field(default_factory=dict)  # licence -> rows left out

    def data(self) -> dict[str, Any]:
        return {**asdict(self), "outdir": str(self.outdir)}

    def exit_status(self) -> ExitStatus:
        """PARTIAL (3) when an image could not be exported (missing, unreadable, not its sha256)."""
        return ExitStatus.PARTIAL if self.failed else ExitStatus.OK

    def lines(self) -> list[str]:
        splits = ", ".join(f"{s} {sum(c.values())}" for s, c in self.per_split.items())
        out = [f"{self.format} export in {self.outdir}: {self.rows} images ({splits}); {self.written} "
               f"written ({self.linked} hard-linked), {self.kept} unchanged, {self.removed} removed"]
        if self.excluded_by_license:
            out.append(f"{sum(self.excluded_by_license.values())} rows left out by licence: " + ", ".join(
                f"{k} {v}" for k, v in self.excluded_by_license.items()))
        out += [f"label {label!r} is in folder {folder!r} (classes.csv)"
                for label, folder in self.renamed_labels.items()]
        out += [f"not exported: {line}" for line in self.failed[:SHOWN]]
        return [*out, "files: " + ", ".join(self.files)]
