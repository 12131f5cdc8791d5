"""What a harvest run reports: counts per label and status, skipped and unmatched inputs.

A ``RunSummary`` is filled by a collector as it goes and printed by the CLI (a table, or ``--json``).
A collector with more to say subclasses it with typed fields (``FramesSummary.videos``,
``RedditSummary.posts_listed``) and says how they read: ``to_dict`` (the ``--json`` output),
``lines`` (what the CLI prints after the table), ``errors`` (whole inputs that failed, printed as
errors) and ``exit_status``. The CLI knows nothing else about any collector.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from manifests import ExitStatus, MergeStats, schema
from manifests.progress import Progress

LISTED = 20  # how many skipped or unmatched names a summary lists


@dataclass
class RunSummary:
    """Counts of one collector run."""

    source: str
    by_label: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    skipped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    merge: MergeStats = MergeStats()
    known: int = 0  # inputs recognised as already in the manifest without being read again
    warnings: list[str] = field(default_factory=list)  # silent no-ops, named (printed as warnings)

    def record(self, label: str | None, status: str) -> None:
        """Count one row that goes into the manifest."""
        self.by_label[label or "(none)"][status] += 1

    def skip(self, reason: str, name: str) -> None:
        """Count one input that makes no row, keeping the first few names."""
        self.skipped[reason] += 1
        if len(self.examples[reason]) < LISTED:
            self.examples[reason].append(name)

    @property
    def statuses(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for counts in self.by_label.values():
            total.update(counts)
        return total

    @property
    def failed(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != schema.OK)

    def to_dict(self) -> dict[str, Any]:
        """The summary as plain JSON-able data."""
        return {
            "source": self.source,
            "rows": sum(self.statuses.values()),
            "ok": self.statuses.get(schema.OK, 0),
            "failed": self.failed,
            "added": self.merge.added,
            "already_present": self.merge.already_present + self.known,
            "replaced_failures": self.merge.replaced_failures,
            "statuses": dict(sorted(self.statuses.items())),
            "by_label": {k: dict(sorted(v.items())) for k, v in sorted(self.by_label.items())},
            "skipped": dict(sorted(self.skipped.items())),
            "skipped_examples": {k: list(v) for k, v in sorted(self.examples.items())},
            **({"warnings": list(self.warnings)} if self.warnings else {}),
        }

    def lines(self) -> list[str]:
        """What a person should read after the counts table (notes, per-input results)."""
        return []

    def errors(self) -> list[str]:
        """Whole inputs that failed (a video ffmpeg cannot read), one message each."""
        return []

    def exit_status(self, strict: bool = False) -> ExitStatus:
        """Input errors when a whole input failed; partial under ``strict`` when any item failed or
        the run warned that it did nothing."""
        if self.errors():
            return ExitStatus.INPUT
        return ExitStatus.PARTIAL if strict and (self.failed or self.warnings) else ExitStatus.OK


@dataclass
class Counts:
    """A download collector's running counters on its progress bar: ``lead`` (posts, results listed)
    advances the bar under ``noun``; stored, skipped and failed are shown beside it."""

    progress: Progress
    lead: str
    noun: str
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] += n
        c = self.counts
        self.progress.total(None, f"{self.noun} {c[self.lead]} · stored {c['stored']} · "
                            f"skipped {c['skipped']} · failed {c['failed']}")
        if what == self.lead:
            self.progress.advance(n)
