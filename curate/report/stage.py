"""``curate report``: one self-contained HTML page that shows a manifest's dataset.

Sections: counts per label; per group column a label x group heatmap (top groups plus "other");
class counts per split with the largest deviation; sources and engines; image size and aspect
histograms; a seeded contact sheet per class and split; duplicate clusters side by side with their
distances; failed rows by reason; label issues and leaks; licence and attribution of search rows; and
the lineage log as a timeline. The picture sections live in :mod:`curate.report.pictures`.

Example::

    from curate.report import ReportOptions, write_report
    result = write_report(Path("data/manifest.csv"), Path("report.html"), ReportOptions(seed=1))
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import manifests
from manifests import schema
from manifests.progress import Progress

from .. import frames
from ..tables import MISSING, as_text, crosstab, plural, structural_zeros, top_columns
from .markup import Section, bars, esc, heatmap_table, histogram_svg, more, page, table
from .options import ReportOptions, ReportResult
from .pictures import Pictures, leaks_section

log = logging.getLogger(__name__)

SET_ASIDE = (schema.DUPLICATE, schema.OVER_CAP)  # not failures: rows a curate stage put aside


def ok_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frames.is_ok(frame)]


def files_missing(frame: pd.DataFrame, root: Path) -> int:
    """How many ok rows name an image file that is not there (deleted or moved since the harvest)."""
    paths = ok_rows(frame)[schema.PATH]
    return int(sum(not (isinstance(p, str) and (root / p).is_file()) for p in paths))


def missing_note(missing: int, ok: int) -> str:
    """The page's warning about ok rows without their file, or ``""``."""
    if not missing:
        return ""
    return (f"<p class='bad'><b>{missing} of the {ok} ok rows have no image file</b> (deleted or moved): "
            "their counts below are rows, not images; <code>curate check</code> lists them.</p>")


def counts_section(frame: pd.DataFrame, missing: int = 0) -> Section:
    ok = ok_rows(frame)
    per = pd.DataFrame({"ok rows": as_text(ok[schema.LABEL]).value_counts(),
                        "all rows": as_text(frame[schema.LABEL]).value_counts()}).fillna(0).astype(int)
    per = per.sort_values("ok rows", ascending=False)
    per["share of ok"] = (per["ok rows"] / max(len(ok), 1)).map("{:.1%}".format)
    per.index.name = "label"
    labels = int(frame[schema.LABEL].nunique())
    body = (f"<p>{plural(len(frame), 'row')}, {len(ok)} ok, {plural(labels, 'label')}.</p>"
            + missing_note(missing, len(ok)) + table(per) + bars(per.loc[per["ok rows"] > 0, "ok rows"]))
    return Section("counts", "Counts per label", body)


def groups_section(frame: pd.DataFrame, options: ReportOptions) -> Section:
    ok = ok_rows(frame)
    found = frames.group_columns(frame)
    if not found:
        return Section("groups", "Labels by group", "<p class='note'>No group column (street, scene, "
                       "video, post_id, author, creator, subreddit) in this manifest.</p>")
    parts = []
    for column in found:
        counts = crosstab(ok, [schema.LABEL], column)
        n = counts.shape[1]
        shown = top_columns(counts, options.top)
        note = (f"{plural(n, 'value')}; the {options.top} largest shown, the rest summed as 'other'"
                if n > options.top else plural(n, "value"))
        nested = structural_zeros(shown).to_numpy().any()
        apart = (f" A grey dot is a zero by construction: that {esc(column)} holds one label."
                 if nested else "")
        parts.append(f"<h3>label x {esc(column)}</h3><p class='note'>{note}. Cells under "
                     f"{options.thin} rows are outlined in red; darker means more rows.{apart}</p>"
                     + heatmap_table(shown, options.thin))
    return Section("groups", "Labels by group", "".join(parts))


def split_deviation(counts: pd.DataFrame) -> tuple[float, str, str]:
    """Largest difference between a class's share in a split and that split's share of all rows."""
    overall = counts.sum(axis=0) / max(int(counts.to_numpy().sum()), 1)
    shares = counts.div(counts.sum(axis=1).replace(0, 1), axis=0)
    diff = (shares - overall).abs()
    if diff.empty:
        return 0.0, "", ""
    label, split = diff.stack().idxmax()
    return float(diff.loc[label, split]), str(label), str(split)


def splits_section(frame: pd.DataFrame) -> Section:
    ok = ok_rows(frame)
    if schema.SPLIT not in ok or ok[schema.SPLIT].isna().all():
        return Section("splits", "Splits", "<p class='note'>No split yet: run <code>curate split"
                       "</code>.</p>")
    counts = crosstab(ok, [schema.LABEL], schema.SPLIT)
    order = [s for s in (*schema.SPLITS, MISSING) if s in counts.columns]
    counts = counts[order + [c for c in counts.columns if c not in order]]
    worst, label, split = split_deviation(counts[[c for c in counts.columns if c != MISSING]])
    shown = counts.copy()
    shown.loc["all"] = counts.sum(axis=0)
    body = table(shown) + (f"<p>Largest deviation from the overall split shares: <b>{worst:.2%}</b> "
                           f"({esc(label)} in {esc(split)}).</p>")
    return Section("splits", "Splits", body)


def sources_section(frame: pd.DataFrame) -> Section:
    source = as_text(frame[schema.SOURCE])
    status_ok = frames.is_ok(frame)
    per = pd.DataFrame({"rows": source.value_counts(), "ok": source[status_ok].value_counts()})
    per = per.fillna(0).astype(int).sort_values("rows", ascending=False)
    per["ok share"] = (per["ok"] / per["rows"].replace(0, 1)).map("{:.1%}".format)
    per.index.name = "source"
    body = table(per)
    for column in (schema.PROVIDER, schema.QUERY):
        if column in frame.columns and frame[column].notna().any():
            counts = as_text(frame.loc[status_ok, column]).value_counts().head(30)
            body += f"<h3>ok rows by {esc(column)}</h3>" + bars(counts)
    return Section("sources", "Sources and engines", body)


def sizes_section(frame: pd.DataFrame) -> Section:
    ok = ok_rows(frame)
    w = pd.to_numeric(ok[schema.WIDTH], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    h = pd.to_numeric(ok[schema.HEIGHT], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    short = np.fmin(w, h)
    aspect = w / np.where(h > 0, h, np.nan)
    known = np.isfinite(short)
    note = (f"<p class='note'>{int(known.sum())} ok rows with a size; shorter side from "
            f"{np.nanmin(short):.0f} to {np.nanmax(short):.0f} px, median {np.nanmedian(short):.0f}."
            "</p>") if known.any() else "<p class='note'>No sizes recorded.</p>"
    body = (note + "<h3>shorter side (pixels, log scale)</h3>"
            + histogram_svg(short, 30, "shorter side, pixels", log_x=True)
            + "<h3>aspect ratio (width / height)</h3>" + histogram_svg(aspect, 30, "width / height"))
    return Section("sizes", "Image sizes and aspect ratios", body)


def failed_section(frame: pd.DataFrame, options: ReportOptions) -> Section:
    status = as_text(frame[schema.STATUS])
    bad = frame[(status != schema.OK)]
    if bad.empty:
        return Section("failed", "Rows not used", "<p>Every row is ok.</p>")
    counts = as_text(bad[schema.STATUS]).value_counts()
    parts = [table(counts.rename("rows").rename_axis("reason").to_frame())]
    for reason in counts.index:
        rows = bad[as_text(bad[schema.STATUS]) == reason].head(options.examples)
        what = "set aside by a curate stage" if reason in SET_ASIDE else "failed"
        shown = pd.DataFrame({"path or origin": rows[schema.PATH].fillna(rows[schema.ORIGIN]),
                              "error": rows[schema.ERROR]})
        if schema.OPTOUT in rows and rows[schema.OPTOUT].notna().any():  # which signal, from where
            shown[schema.OPTOUT] = rows[schema.OPTOUT]
        parts.append(f"<h3>{esc(reason)}: {int(counts[reason])} ({what})</h3>" + table(shown, index=False)
                     + more(len(rows), int(counts[reason]), f"status={reason} in the manifest"))
    return Section("failed", "Rows not used, by reason", "".join(parts))


def attribution_section(frame: pd.DataFrame, options: ReportOptions) -> Section:
    rows = frame[frames.is_search(frame) & frames.is_ok(frame)]
    if rows.empty:
        return Section("attribution", "Licences and attribution",
                       "<p class='note'>No search rows (no source search:&lt;engine&gt;, no licence "
                       "column values).</p>")
    present = [c for c in (schema.PATH, schema.SOURCE, *frames.ATTRIBUTION) if c in rows.columns]
    licences = as_text(rows[schema.LICENSE]) if schema.LICENSE in rows else pd.Series(MISSING, rows.index)
    listed = rows[present].head(options.attribution)
    more = len(rows) - len(listed)
    body = ("<h3>ok search rows per licence</h3>" + bars(licences.value_counts())
            + table(listed, index=False, links=(schema.PAGE_URL, schema.CREATOR_URL, schema.LICENSE_URL,
                                                schema.ORIGIN))
            + (f"<p class='note'>... and {more} more (curate export writes them all to "
               "ATTRIBUTION.md).</p>" if more > 0 else ""))
    return Section("attribution", "Licences and attribution", body)


def lineage_section(entries: list[dict[str, Any]]) -> Section:
    if not entries:
        return Section("lineage", "Lineage", "<p class='note'>No lineage log beside the manifest.</p>")
    items = []
    for e in entries:
        change = ", ".join(f"{k} {e[k]}" for k in ("added", "changed", "removed") if e.get(k))
        details = e.get("details")
        extra = f"<br><span class='note'>{esc(details)}</span>" if details else ""
        items.append(f"<li><b>{esc(e.get('time'))}</b> <code>{esc(e.get('command'))}</code><br>"
                     f"{esc(change or 'no row changes')}; {esc(e.get('rows'))} rows after "
                     f"(gleanset {esc(e.get('version'))}){extra}</li>")
    return Section("lineage", "Lineage", f"<ol class='timeline'>{''.join(items)}</ol>")


def card_link(manifest: Path, out: Path, options: ReportOptions) -> str:
    """The subtitle's link to the dataset card (``--card``, else CARD.md beside the manifest)."""
    card = options.card or manifest.resolve().parent / "CARD.md"
    if not card.is_file():
        return ""
    href = os.path.relpath(card.resolve(), out.resolve().parent).replace(os.sep, "/")
    return f" Dataset card: <a href='{esc(href)}'>{esc(card.name)}</a>."


def build_report(frame: pd.DataFrame, root: Path, options: ReportOptions,
                 entries: list[dict[str, Any]] | None = None, title: str = "dataset report",
                 progress: Progress | None = None, card: str = "") -> tuple[str, ReportResult]:
    """The report page for ``frame`` (image paths relative to ``root``) and what it holds."""
    for column in (schema.LABEL, schema.STATUS, schema.SOURCE, schema.PATH):
        if column not in frame.columns:
            raise manifests.InputError(f"the manifest has no {column!r} column")
    pictures = Pictures.make(frame, root, options, progress)
    ok = int(frames.is_ok(frame).sum())
    missing = files_missing(frame, root)
    sections = [counts_section(frame, missing), groups_section(frame, options), splits_section(frame),
                sources_section(frame), sizes_section(frame), pictures.contact_sheet(),
                pictures.duplicates(), failed_section(frame, options), pictures.issues(),
                leaks_section(frame, options), attribution_section(frame, options),
                lineage_section(entries or [])]
    gone = f" <b class='bad'>({missing} with no image file)</b>" if missing else ""
    subtitle = (f"{plural(len(frame), 'row')}, {ok} ok{gone}. Made by <code>curate report</code>; "
                f"contact sheet seed {options.seed}.{card}")
    result = ReportResult(Path(), len(frame), ok, [s.id for s in sections], pictures.made,
                          pictures.missing, files_missing=missing)
    return page(title, subtitle, sections), result


def write_report(manifest: Path, out: Path, options: ReportOptions,
                 progress: Progress | None = None) -> ReportResult:
    """Read ``manifest`` and its lineage log and write the report to ``out`` (atomically)."""
    start = time.perf_counter()
    frame = manifests.read(manifest)
    root = manifest.resolve().parent
    text, result = build_report(frame, root, options, manifests.lineage_entries(manifest),
                                f"{manifest.name}: dataset report", progress,
                                card_link(manifest, out, options))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    result.path = out
    result.seconds = round(time.perf_counter() - start, 3)
    return result
