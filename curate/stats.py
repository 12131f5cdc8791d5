"""Row counts of a manifest: by status, and of usable rows by any columns; two or more columns also
give a cross-tab (the last column across, the others down)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from manifests import InputError, schema

from .tables import crosstab

MISSING = "(missing)"


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
