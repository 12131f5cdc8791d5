"""Row selections the report and the export share: ok rows, search rows and their attribution, flags,
and the group columns shown. Column names are :mod:`manifests.schema`'s."""

from __future__ import annotations

import pandas as pd

import manifests
from manifests import schema

# Attribution of a row, in the order ATTRIBUTION.md and the report's table show it.
ATTRIBUTION = (schema.TITLE, schema.CREATOR, schema.CREATOR_URL, schema.LICENSE, schema.LICENSE_URL,
               schema.PAGE_URL, schema.PROVIDER, schema.ORIGIN, schema.OPTOUT)
# Shown beside the recorded group columns: not a group, but the table that exposes a source's leak.
REPORT_EXTRAS = (schema.SUBREDDIT,)
SEARCH_PREFIX = "search:"


def group_columns(frame: pd.DataFrame) -> list[str]:
    """The manifest's recorded group columns (:func:`manifests.group_columns`), plus subreddit, that
    hold any value."""
    extras = [c for c in REPORT_EXTRAS if c in frame.columns and frame[c].notna().any()]
    return list(dict.fromkeys([*manifests.group_columns(frame), *extras]))


def is_search(frame: pd.DataFrame) -> pd.Series:
    """Rows harvested from an image search (``source`` is ``search:<engine>``) or carrying a licence."""
    source = frame[schema.SOURCE].astype("string").fillna("") if schema.SOURCE in frame else None
    mask = pd.Series(False, index=frame.index)
    if source is not None:
        mask |= source.str.startswith(SEARCH_PREFIX)
    for col in (schema.LICENSE, schema.CREATOR):
        if col in frame.columns:
            mask |= frame[col].notna()
    return mask.astype(bool)


def truthy(series: pd.Series) -> pd.Series:
    """A flag column as booleans, whether it is stored as booleans or as text (``True``, ``1``, ``yes``)."""
    if pd.api.types.is_bool_dtype(series):
        return series.fillna(False).astype(bool)
    return series.astype("string").str.strip().str.lower().isin(["true", "1", "yes"]).fillna(False)


def is_ok(frame: pd.DataFrame) -> pd.Series:
    """Rows whose status is ok, as plain booleans (a missing status is not ok)."""
    return frame[schema.STATUS].astype("string").eq(schema.OK).fillna(False).astype(bool)
