"""``curate stats``: row counts of a manifest by status, and of usable rows by any columns; two or more
columns also give a cross-tab (the last column across, the others down)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from manifests import InputError, UsageError, schema

from .contract import StageResult
from .tables import crosstab

MISSING = "(missing)"


@dataclass(frozen=True)
class StatsOptions:
    """The columns to count usable rows by (none: by status only; two or more: a cross-tab too)."""

    by: tuple[str, ...] = (schema.LABEL,)

    def __post_init__(self) -> None:
        if any(not isinstance(c, str) or not c.strip() for c in self.by):
            raise UsageError(f"--by takes comma-separated column names (got {','.join(map(str, self.by))!r})")


@dataclass
class StatsResult(StageResult):
    """The counts of :func:`stats` (``counts`` is its dict, the ``--json`` output)."""

    counts: dict[str, Any] = field(default_factory=dict)

    def data(self) -> dict[str, Any]:
        return dict(self.counts)

    def lines(self) -> list[str]:
        return []  # the counts are tables, headed by "N rows, M ok" (curate.cli.views)


def count(frame: pd.DataFrame, options: StatsOptions) -> StatsResult:
    """The ``curate stats`` stage: :func:`stats` over ``options.by``."""
    return StatsResult(stats(frame, list(options.by)))


def stats(frame: pd.DataFrame, by: list[str]) -> dict[str, Any]:
    """Counts of rows by status, and of ``status == ok`` rows by each column in ``by``."""
    unknown = [c for c in by if c not in frame.columns]
    if unknown:
        raise InputError(f"no column {unknown[0]!r} in the manifest "
                         f"(columns: {', '.join(map(str, frame.columns))})")
    ok = frame[frame[schema.STATUS] == schema.OK]
    result: dict[str, Any] = {
        "rows": len(frame),
        "ok": len(ok),
        "status": _counts(frame[schema.STATUS]),
        "by": {col: _counts(ok[col]) for col in by},
    }
    if len(by) >= 2:
        table = crosstab(ok, by[:-1], by[-1])
        result["crosstab"] = {
            "rows": by[:-1], "columns": by[-1],
            "counts": {(" x ".join(map(str, k)) if isinstance(k, tuple) else str(k)):
                       {str(c): int(v) for c, v in row.items()} for k, row in table.iterrows()}}
    return result


def _counts(series: pd.Series) -> dict[str, int]:
    counts = series.astype("string").fillna(MISSING).value_counts()
    return {str(k): int(v) for k, v in counts.sort_index().items()}
