"""Row counts of a manifest: by status, and of usable rows by any columns."""

from __future__ import annotations

from typing import Any

import pandas as pd

from manifests import InputError, schema

MISSING = "(missing)"


def stats(frame: pd.DataFrame, by: list[str]) -> dict[str, Any]:
    """Counts of rows by status, and of ``status == ok`` rows by each column in ``by``."""
    unknown = [c for c in by if c not in frame.columns]
    if unknown:
        raise InputError(f"no column {unknown[0]!r} in the manifest "
                         f"(columns: {', '.join(map(str, frame.columns))})")
    ok = frame[frame[schema.STATUS] == schema.OK]
    return {
        "rows": len(frame),
        "ok": len(ok),
        "status": _counts(frame[schema.STATUS]),
        "by": {col: _counts(ok[col]) for col in by},
    }


def _counts(series: pd.Series) -> dict[str, int]:
    counts = series.astype("string").fillna(MISSING).value_counts()
    return {str(k): int(v) for k, v in counts.sort_index().items()}
