"""The facts a dataset card states, gathered from the manifest, its lineage log and the exported rows.

:func:`gather` returns a :class:`CardFacts`, plain data (counts, shares, sentences) that the two
renderers (:mod:`curate.card.markdown`, :mod:`curate.card.croissant`) print and that a test can
recompute from the manifest: every number on the card is one of these fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from manifests import schema

from .. import frames
from ..tables import MISSING, as_text, natural_sorted
from . import licenses
from .sources import Source, collector_of, sources

TOP_VALUES = 20  # group values listed per group column; the rest are summed
ONE_SOURCE = (schema.SOURCE, schema.SUBREDDIT, schema.VIDEO, schema.AUTHOR, schema.CREATOR,
              schema.PROVIDER, schema.SOURCE_DOMAIN)
SPLIT_ORDER = {s: i for i, s in enumerate(schema.SPLITS)}


@dataclass
class GroupFacts:
    """One group column over the exported rows: its values, rows per value and split, leaks."""

    values: int
    per_value: dict[str, dict[str, int]]  # the TOP_VALUES largest values, then "other (N values)"
    straddling: int  # values found in more than one split


@dataclass
class Curation:
    """What the curate stages did to the manifest, and which rows did not reach the dataset."""

    duplicates: int = 0
    clusters: int = 0
    mixed_clusters: int = 0
    dedupe: dict[str, Any] = field(default_factory=dict)  # the last curate dedupe's settings
    label_issues: int | None = None  # rows cleanlab flagged (None: curate label-issues never ran)
    relabelled: int = 0
    dropped_issues: int = 0
    by_status: dict[str, int] = field(default_factory=dict)  # rows not ok, per status
    ok_not_exported: int = 0  # ok rows without a path, label or split, or excluded by licence


@dataclass
class SplitFacts:
    """How the split was made (the last curate split) and how close it came to its ratios."""

    group_by: list[str] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    stratify: str | None = None
    seed: int | None = None
    deviation: float = 0.0
    deviation_at: tuple[str, str] = ("", "")
    recorded: bool = False


@dataclass
class LicenceFacts:
    """Licences of the exported rows and what the export's licence filter removed."""

    counts: dict[str, int] = field(default_factory=dict)  # licence (or NONE) -> rows
    unlicensed: dict[str, int] = field(default_factory=dict)  # collector -> rows without a licence
    noncommercial: float = 0.0  # share of exported rows
    noderivatives: float = 0.0
    excluded: dict[str, int] = field(default_factory=dict)
    rule: str = ""
    attribution: bool = False  # ATTRIBUTION.md lists the search rows


@dataclass
class CardFacts:
    """Everything a dataset card says, as numbers and sentences."""

    name: str
    images: int
    labels: list[str]
    splits: list[str]
    per_class: dict[str, dict[str, int]]  # label -> split -> rows
    groups: dict[str, GroupFacts]
    sources: list[Source]
    curation: Curation
    split: SplitFacts
    licences: LicenceFacts
    class_ratio: float  # largest class / smallest class
    group_skew: list[tuple[str, str, str, float]]  # (label, column, value, share of the label's rows)
    one_source: list[tuple[str, str, float]]  # (column, value, share of all rows)
    timeframe: tuple[str, str] | None  # first and last harvest time
    people: list[str] = field(default_factory=list)  # personal or sensitive information present
    files: dict[str, str] = field(default_factory=dict)  # split -> where its files are (export)


def split_names(values: pd.Series) -> list[str]:
    return sorted(set(values), key=lambda s: (SPLIT_ORDER.get(s, len(SPLIT_ORDER)), s))


def per_class(rows: pd.DataFrame, splits: list[str]) -> dict[str, dict[str, int]]:
    table = pd.crosstab(as_text(rows[schema.LABEL]), as_text(rows[schema.SPLIT]))
    return {str(label): {s: int(table.at[label, s]) if s in table.columns else 0 for s in splits}
            for label in natural_sorted(table.index)}


def group_facts(rows: pd.DataFrame, column: str, splits: list[str]) -> GroupFacts:
    values = as_text(rows[column])
    table = pd.crosstab(values, as_text(rows[schema.SPLIT])).reindex(columns=splits, fill_value=0)
    order = table.sum(axis=1).sort_values(ascending=False, kind="stable")
    top = [v for v in order.index[:TOP_VALUES]]
    per = {str(v): {s: int(table.at[v, s]) for s in splits} for v in natural_sorted(top)}
    rest = [v for v in order.index[TOP_VALUES:]]
    if rest:
        per[f"other ({len(rest)} values)"] = {s: int(table.loc[rest, s].sum()) for s in splits}
    known = table.drop(index=MISSING, errors="ignore")
    return GroupFacts(len(known), per, int(((known > 0).sum(axis=1) > 1).sum()))


def last_details(entries: list[dict[str, Any]], command: str) -> dict[str, Any] | None:
    """The details of the last lineage entry of ``curate <command>`` (None: it never ran)."""
    found = [e for e in entries if str(e.get("command", "")).startswith(f"curate {command} ")]
    return dict(found[-1].get("details") or {}) if found else None


def curation(frame: pd.DataFrame, rows: pd.DataFrame, entries: list[dict[str, Any]]) -> Curation:
    status = as_text(frame[schema.STATUS])
    out = Curation(duplicates=int((status == schema.DUPLICATE).sum()))
    if schema.DUP_CLUSTER in frame:
        out.clusters = int(frame[schema.DUP_CLUSTER].nunique())
        if schema.DUP_CONFLICT in frame:
            mixed = frame[frame[schema.DUP_CONFLICT].notna()]
            out.mixed_clusters = int(mixed[schema.DUP_CLUSTER].nunique())
    out.dedupe = last_details(entries, "dedupe") or {}
    if schema.LABEL_ISSUE in frame:
        out.label_issues = int(frames.truthy(frame.loc[frames.is_ok(frame), schema.LABEL_ISSUE]).sum())
    for entry in entries:
        if str(entry.get("command", "")).startswith("curate label-issues "):
            details = entry.get("details") or {}
            out.relabelled += int(details.get("relabelled") or 0)
            out.dropped_issues += int(details.get("dropped") or 0)
    out.by_status = {str(k): int(v) for k, v in status[status != schema.OK].value_counts().items()}
    out.ok_not_exported = int(frames.is_ok(frame).sum()) - len(rows)
    return out


def split_facts(rows: pd.DataFrame, counts: dict[str, dict[str, int]], splits: list[str],
                entries: list[dict[str, Any]]) -> SplitFacts:
    details = last_details(entries, "split")
    out = SplitFacts() if details is None else SplitFacts(
        [str(c) for c in details.get("group_by") or []], [float(r) for r in details.get("ratios") or []],
        details.get("stratify"), details.get("seed"), recorded=True)
    table = pd.DataFrame(counts).T.reindex(columns=splits).fillna(0)
    total = table.to_numpy().sum()
    if total and len(splits) > 1:
        overall = table.sum(axis=0) / total
        diff = (table.div(table.sum(axis=1).replace(0, 1), axis=0) - overall).abs()
        label, split = diff.stack().idxmax()
        out.deviation, out.deviation_at = float(diff.loc[label, split]), (str(label), str(split))
    return out


def licence_facts(rows: pd.DataFrame, excluded: dict[str, int], rule: str) -> LicenceFacts:
    found = licenses.licences(rows)
    codes = found[found != licenses.NONE].map(licenses.code_of)
    kinds = as_text(rows[schema.SOURCE]).map(collector_of)
    none = kinds[found == licenses.NONE].value_counts()
    n = max(len(rows), 1)
    return LicenceFacts(
        counts={str(k): int(v) for k, v in found.value_counts().sort_index().items()},
        unlicensed={str(k): int(v) for k, v in none.sort_index().items()},
        noncommercial=float(codes.map(licenses.noncommercial).sum()) / n,
        noderivatives=float(codes.map(licenses.noderivatives).sum()) / n,
        excluded=dict(excluded), rule=rule, attribution=bool(frames.is_search(rows).any()))


def group_skew(rows: pd.DataFrame, columns: list[str]) -> list[tuple[str, str, str, float]]:
    """Per group column, the label most concentrated on one value: (label, column, value, share)."""
    out = []
    for column in columns:
        known = rows[rows[column].notna()]
        if known.empty or known[column].nunique() < 2:
            continue
        table = pd.crosstab(as_text(known[schema.LABEL]), as_text(known[column]))
        shares = table.div(table.sum(axis=1), axis=0)
        label, value = shares.stack().idxmax()
        out.append((str(label), column, str(value), float(shares.loc[label, value])))
    return out


def one_source(rows: pd.DataFrame) -> list[tuple[str, str, float]]:
    """Per source-like column, the value that gave the most images and its share of all of them."""
    out = []
    for column in ONE_SOURCE:
        if column in rows and rows[column].notna().any():
            counts = as_text(rows[column]).value_counts()
            out.append((column, str(counts.index[0]), float(counts.iloc[0]) / len(rows)))
    return out


def people(rows: pd.DataFrame, kinds: set[str]) -> list[str]:
    """What personal information the rows hold or may show."""
    out = []
    if schema.AUTHOR in rows and rows[schema.AUTHOR].notna().any():
        out.append(f"Reddit user names: the author column names {rows[schema.AUTHOR].nunique()} posters "
                   "(a group column the split keeps apart)")
    if schema.CREATOR in rows and rows[schema.CREATOR].notna().any():
        out.append(f"creator names: {rows[schema.CREATOR].nunique()} creators are named for attribution")
    if kinds & {"reddit", "search"}:
        out.append("images posted or published by the public may show people; they were not reviewed "
                   "for faces or other personal data")
    if kinds & {"folder", "frames"}:
        out.append("the publisher's own images and video frames may show people; gleanset does not "
                   "detect faces or personal data")
    return out


def timeframe(rows: pd.DataFrame) -> tuple[str, str] | None:
    if schema.HARVESTED_AT not in rows:
        return None
    times = pd.to_datetime(rows[schema.HARVESTED_AT], errors="coerce", utc=True).dropna()
    if times.empty:
        return None
    return (times.min().isoformat(timespec="seconds"), times.max().isoformat(timespec="seconds"))


def gather(frame: pd.DataFrame, rows: pd.DataFrame, entries: list[dict[str, Any]], name: str,
           excluded: dict[str, int] | None = None, rule: str = "") -> CardFacts:
    """The card's facts: ``frame`` is the whole manifest, ``rows`` the dataset's rows (what an export
    wrote: ok, with a path, a label and a split), ``entries`` the lineage log."""
    rows = rows.copy()
    rows[schema.SPLIT] = as_text(rows[schema.SPLIT]) if schema.SPLIT in rows else MISSING
    splits = split_names(rows[schema.SPLIT])
    counts = per_class(rows, splits)
    columns = [c for c in frames.group_columns(frame) if c in rows and rows[c].notna().any()]
    sizes = [sum(c.values()) for c in counts.values()]
    kinds = set(as_text(rows[schema.SOURCE]).map(collector_of))
    return CardFacts(
        name=name, images=len(rows), labels=list(counts), splits=splits, per_class=counts,
        groups={c: group_facts(rows, c, splits) for c in columns},
        sources=sources(rows, entries), curation=curation(frame, rows, entries),
        split=split_facts(rows, counts, splits, entries),
        licences=licence_facts(rows, excluded or {}, rule),
        class_ratio=max(sizes) / min(sizes) if sizes and min(sizes) else 0.0,
        group_skew=group_skew(rows, columns), one_source=one_source(rows), timeframe=timeframe(rows),
        people=people(rows, kinds))
