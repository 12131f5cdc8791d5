"""The picture sections of ``curate report``: contact sheet, duplicate clusters and label issues.

:class:`Pictures` first picks every row the page will show (a seeded sample per class and split, the
members of the clusters shown, the worst label issues), makes all their thumbnails in one parallel
batch (:mod:`curate.thumbs`), then renders the sections. :func:`leaks_section` lists what crosses
splits: near-duplicate clusters and group values (a street, a scene) found in more than one split.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from manifests import schema
from manifests.progress import Progress

from .. import frames
from ..balance import tiebreak
from ..tables import MISSING, as_text, natural_sorted, plural
from .markup import Section, breakable, esc, figure, more, table
from .thumbs import data_uri, job_for, thumbnails

if TYPE_CHECKING:
    from .options import ReportOptions

_DISTANCE = re.compile(r"distance (\d+)")
MAX_MEMBERS = 12  # images shown per duplicate cluster


def _hamming(a: object, b: object) -> int | None:
    try:
        return (int(str(a), 16) ^ int(str(b), 16)).bit_count()
    except ValueError:
        return None


@dataclass
class Pictures:
    """Rows the page shows and their thumbnails (data URIs by row index)."""

    frame: pd.DataFrame
    options: ReportOptions
    sample: pd.DataFrame
    clusters: list[pd.DataFrame]
    issues_rows: pd.DataFrame
    uris: dict[object, str | None]
    made: int = 0
    missing: int = 0

    @classmethod
    def make(cls, frame: pd.DataFrame, root: Path, options: ReportOptions,
             progress: Progress | None = None) -> Pictures:
        sample = _sample(frame, options)
        clusters = _clusters(frame, options)
        issues_rows = _issue_rows(frame, options)
        shown = pd.concat([sample, *clusters, issues_rows])
        shown = shown[shown[schema.PATH].notna()]
        jobs = {i: job_for(root, str(r[schema.PATH]), None if pd.isna(r[schema.SHA256]) else
                           str(r[schema.SHA256])) for i, r in shown.iterrows()}
        thumbs = thumbnails(jobs.values(), root, options.thumb_size, options.workers, options.cache,
                            progress)
        uris = {i: (data_uri(thumbs[j.key]) if thumbs.get(j.key) else None) for i, j in jobs.items()}
        made = sum(1 for v in thumbs.values() if v)
        return cls(frame, options, sample, clusters, issues_rows, uris, made, len(thumbs) - made)

    def _figure(self, index: object, caption: str, keep: bool = False) -> str:
        return figure(self.uris.get(index), caption, keep)

    def contact_sheet(self) -> Section:
        if self.sample.empty:
            return Section("samples", "Samples per class and split", "<p>No ok rows.</p>")
        label = as_text(self.sample[schema.LABEL])
        split = as_text(self.sample[schema.SPLIT]) if schema.SPLIT in self.sample else \
            pd.Series(MISSING, self.sample.index)
        splits = [s for s in (*schema.SPLITS, MISSING) if s in set(split)]
        splits += natural_sorted(set(split) - set(splits))
        cells = {key: idx for key, idx in self.sample.groupby([label, split], sort=False).groups.items()}
        names = self.sample[schema.PATH].astype(str).map(lambda p: Path(p).name)
        rows = []
        for name in natural_sorted(set(label)):
            tds = "".join("<td><div class='thumbs'>" + "".join(
                self._figure(i, breakable(names[i])) for i in cells.get((name, s), [])) + "</div></td>"
                for s in splits)
            rows.append(f"<tr><th>{esc(name)}</th>{tds}</tr>")
        head = "".join(f"<th>{esc(s)}</th>" for s in splits)
        note = (f"<p class='note'>Up to {self.options.per_cell} ok images per class and split, picked "
                f"with seed {self.options.seed} (curate report --seed N shows others).</p>")
        return Section("samples", "Samples per class and split",
                       note + f"<table class='sheet'><thead><tr><th>label</th>{head}</tr></thead>"
                       f"<tbody>{''.join(rows)}</tbody></table>")

    def duplicates(self) -> Section:
        if not self.clusters:
            return Section("duplicates", "Duplicate clusters", "<p class='note'>No near-duplicate "
                           "clusters (run <code>curate dedupe</code> to find them).</p>")
        total = self.frame[schema.DUP_CLUSTER].nunique()
        parts = [f"<p class='note'>{plural(total, 'cluster')}; {len(self.clusters)} shown, clusters "
                 "with mixed labels first. The kept image is framed in green; the others show their "
                 "hash distance to it.</p>"]
        for members in self.clusters:
            keeper = members.index[0]
            labels = set(as_text(members[schema.LABEL]))
            figs = [self._figure(keeper, f"keep: {esc(members.at[keeper, schema.LABEL])}", keep=True)]
            for i, r in members.iloc[1:MAX_MEMBERS].iterrows():
                figs.append(self._figure(i, f"{esc(r[schema.LABEL])}, distance "
                                            f"{_distance(r, members.loc[keeper])}"))
            mixed = " <b class='bad'>mixed labels</b>" if len(labels) > 1 else ""
            size = int(members.attrs.get("size", len(members)))
            parts.append(f"<p>cluster {esc(members[schema.DUP_CLUSTER].iloc[0])} "
                         f"({plural(size, 'image')}){mixed}</p><div class='cluster'>"
                         f"{''.join(figs)}</div>" + more(len(figs), size))
        return Section("duplicates", "Duplicate clusters", "".join(parts))

    def issues(self) -> Section:
        frame, parts = self.frame, []
        if schema.LABEL_ISSUE in frame.columns:
            flagged = frame[frames.truthy(frame[schema.LABEL_ISSUE])]
            per = as_text(flagged[schema.LABEL]).value_counts().rename("label issues")
            parts.append(f"<p>{plural(len(flagged), 'row')} flagged as possibly mislabelled.</p>"
                         + table(per.rename_axis("label").to_frame()))
        if not self.issues_rows.empty:
            figs = []
            for i, r in self.issues_rows.iterrows():
                quality = r.get(schema.LABEL_QUALITY)
                suggested = r.get(schema.SUGGESTED_LABEL)
                text = f"{esc(r[schema.LABEL])}" + (f" → {esc(suggested)}" if pd.notna(suggested) else "")
                text += f", quality {float(quality):.2f}" if pd.notna(quality) else ""
                figs.append(self._figure(i, text))
            parts.append("<h3>lowest label quality</h3><div class='thumbs' style='max-width:none'>"
                         + "".join(figs) + "</div>")
        if schema.DUP_CONFLICT in frame.columns and frame[schema.DUP_CONFLICT].notna().any():
            rows = frame[frame[schema.DUP_CONFLICT].notna()]
            parts.append(f"<h3>near-duplicates with conflicting labels ({len(rows)})</h3>"
                         + table(rows[[schema.PATH, schema.LABEL, schema.DUP_CONFLICT]]
                                 .head(self.options.attribution), index=False)
                         + more(min(len(rows), self.options.attribution), len(rows)))
        if not parts:
            parts.append(f"<p class='note'>No label-issue columns ({schema.LABEL_QUALITY}, "
                         f"{schema.LABEL_ISSUE}, {schema.DUP_CONFLICT}) in this manifest.</p>")
        return Section("issues", "Label issues", "".join(parts))


def _sample(frame: pd.DataFrame, options: ReportOptions) -> pd.DataFrame:
    ok = frame[frames.is_ok(frame)]
    keys = pd.DataFrame({"label": as_text(ok[schema.LABEL]),
                         "split": as_text(ok[schema.SPLIT]) if schema.SPLIT in ok else MISSING,
                         "order": tiebreak(ok, options.seed)}, index=ok.index)
    keys = keys.sort_values(["label", "split", "order"], kind="stable")
    picked = keys.groupby(["label", "split"], sort=False).head(options.per_cell)
    return ok.loc[picked.index]


def _clusters(frame: pd.DataFrame, options: ReportOptions) -> list[pd.DataFrame]:
    if schema.DUP_CLUSTER not in frame.columns or frame[schema.DUP_CLUSTER].isna().all():
        return []
    rows = frame[frame[schema.DUP_CLUSTER].notna()]
    grouped = rows.groupby(schema.DUP_CLUSTER, sort=False)
    order = pd.DataFrame({"mixed": grouped[schema.LABEL].nunique() > 1, "size": grouped.size()}
                         ).sort_values(["mixed", "size"], ascending=False, kind="stable").index
    members_of = grouped.indices
    out = []
    for cid in order[:options.clusters]:
        members = rows.iloc[members_of[cid]]
        keepers = members.index[as_text(members[schema.STATUS]) != schema.DUPLICATE]
        first = keepers[:1] if len(keepers) else members.index[:1]
        shown = members.loc[[*first, *members.index.drop(first)]].head(MAX_MEMBERS)
        shown.attrs["size"] = len(members)  # the whole cluster, for "... and N more"
        out.append(shown)
    return out


def _distance(row: pd.Series, keeper: pd.Series) -> str:
    error = row.get(schema.ERROR)
    found = _DISTANCE.search("" if error is None or pd.isna(error) else str(error))
    if found:
        return found.group(1)
    if schema.PHASH in row.index and pd.notna(row[schema.PHASH]) and pd.notna(keeper[schema.PHASH]):
        d = _hamming(row[schema.PHASH], keeper[schema.PHASH])
        return "?" if d is None else str(d)
    return "?"


def _issue_rows(frame: pd.DataFrame, options: ReportOptions) -> pd.DataFrame:
    if schema.LABEL_QUALITY not in frame.columns:
        return frame.iloc[:0]
    quality = pd.to_numeric(frame[schema.LABEL_QUALITY], errors="coerce")
    mask = quality.notna()
    if schema.LABEL_ISSUE in frame.columns:
        mask &= frames.truthy(frame[schema.LABEL_ISSUE])
    return frame.loc[quality[mask].sort_values(kind="stable").index[:options.clusters]]


def leaks_section(frame: pd.DataFrame, options: ReportOptions) -> Section:
    """Near-duplicate clusters and group values that appear in more than one split."""
    if schema.SPLIT not in frame.columns or frame[schema.SPLIT].isna().all():
        return Section("leaks", "Leaks across splits", "<p class='note'>No split yet.</p>")
    placed = frame[frame[schema.SPLIT].notna()]
    found = []
    for column in [schema.DUP_CLUSTER, *frames.group_columns(frame)]:
        if column not in placed.columns:
            continue
        spread = placed[placed[column].notna()].groupby(column)[schema.SPLIT].nunique()
        crossing = spread[spread > 1]
        if len(crossing):
            rows = placed[placed[column].isin(crossing.index)]
            examples = ", ".join(str(v) for v in natural_sorted(crossing.index)[:options.examples])
            found.append({"column": column, "values in several splits": len(crossing),
                          "rows": len(rows), "examples": examples})
    if not found:
        return Section("leaks", "Leaks across splits", "<p>No near-duplicate cluster and no group "
                       "value is in more than one split.</p>")
    body = ("<p class='bad'>These values are in more than one split: the validation score will be "
            "inflated. Re-run <code>curate split --group-by ...</code>.</p>"
            + table(pd.DataFrame(found), index=False))
    return Section("leaks", "Leaks across splits", body)
