"""Columns the report and the export read that other stages declare, and the group columns they show.

Column names live in :mod:`manifests.schema`. A few that ``curate report`` and ``curate export`` show
(``creator``, ``page_url`` ... from ``harvest search``; ``label_quality``, ``label_issue``,
``dup_conflict`` from the label-issue stage) are being declared there by other work in flight; until
they land, :func:`_declared` falls back to the name that work documents, so the report shows the columns
the moment a manifest has them.
"""

from __future__ import annotations

import pandas as pd

import manifests
from manifests import schema


def _declared(constant: str, fallback: str) -> str:
    """``schema.<constant>`` once it is declared, else the documented name (replace when it lands)."""
    return str(getattr(schema, constant, fallback))


CREATOR = _declared("CREATOR", "creator")
CREATOR_URL = _declared("CREATOR_URL", "creator_url")
PAGE_URL = _declared("PAGE_URL", "page_url")
LICENSE_URL = _declared("LICENSE_URL", "license_url")
PROVIDER = _declared("PROVIDER", "provider")
ENGINE = _declared("ENGINE", "engine")
QUERY = _declared("QUERY", "query")
LABEL_QUALITY = _declared("LABEL_QUALITY", "label_quality")
LABEL_ISSUE = _declared("LABEL_ISSUE", "label_issue")
SUGGESTED_LABEL = _declared("SUGGESTED_LABEL", "suggested_label")
DUP_CONFLICT = _declared("DUP_CONFLICT", "dup_conflict")

# Attribution of a row, in the order ATTRIBUTION.md and the report's table show it.
ATTRIBUTION = (schema.TITLE, CREATOR, CREATOR_URL, schema.LICENSE, LICENSE_URL, PAGE_URL, PROVIDER,
               schema.ORIGIN)
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
    for col in (schema.LICENSE, CREATOR):
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
