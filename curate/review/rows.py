"""The manifest as ``curate review`` holds it: read once, read again when another command changes the
file, and queried a page at a time (filters, sorts, the label-issue queue and the model mistakes).

:class:`RowStore` keeps the frame, a map from sha256 to row position (the only way a request reaches
a file: ``/thumb/<sha256>`` names a row, the row names the file) and the file's identity (inode, size,
modification time), so a change made by another command is noticed on the next poll.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from manifests import InputError, io, schema

from ..frames import truthy

log = logging.getLogger(__name__)

# Columns a view can filter on (besides the manifest's group columns), and the sorts it offers.
FILTERS = (schema.LABEL, schema.SPLIT, schema.STATUS, schema.SOURCE, schema.ENGINE, schema.QUERY,
           schema.SUBREDDIT, schema.LABEL_ISSUE, schema.OFF_TOPIC, schema.DUP_CLUSTER, schema.DUP_CONFLICT)
FLAGS = (schema.LABEL_ISSUE, schema.DUP_CLUSTER, schema.DUP_CONFLICT)  # filtered as yes / no
SORTS = {"quality": (schema.LABEL_QUALITY, True), "off_topic": (schema.OFF_TOPIC, True),
         "size": ("_pixels", False), "bytes": (schema.BYTES, False), "time": (schema.HARVESTED_AT, False)}
VIEWS = ("grid", "issues", "mistakes")
NONE = "(none)"  # the filter value that picks missing values
PREDICTION, CONFIDENCE = "prediction", "confidence"  # predictions.csv's columns (train.metrics)
CARD = (schema.SHA256, schema.LABEL, schema.STATUS, schema.ERROR, schema.SPLIT, schema.SOURCE,
        schema.WIDTH, schema.HEIGHT, schema.LABEL_QUALITY, schema.LABEL_ISSUE, schema.SUGGESTED_LABEL,
        schema.OFF_TOPIC, schema.DUP_CLUSTER, schema.DUP_CONFLICT, schema.DUP_OF)


def stamp(path: Path) -> tuple[int, int, int] | None:
    """The file's identity: inode, size and modification time (None when it is missing)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


@dataclass(frozen=True)
class Query:
    """One page of a view: filters (column -> value), a sort (``-`` first: descending), the window."""

    view: str = "grid"
    filters: tuple[tuple[str, str], ...] = ()
    sort: str = ""
    offset: int = 0
    limit: int = 120

    @classmethod
    def parse(cls, params: Any, page_size: int) -> Query:
        """From a request's query string: ``view``, ``sort``, ``offset``, ``limit`` and ``f.COLUMN``."""
        def number(name: str, default: int, top: int) -> int:
            try:
                return max(0, min(top, int(params.get(name, default))))
            except ValueError:
                return default
        view = params.get("view", "grid")
        filters = tuple((k[2:], v) for k, v in params.items() if k.startswith("f.") and v != "")
        return cls(view if view in VIEWS else "grid", filters, params.get("sort", ""),
                   number("offset", 0, 10**9), number("limit", page_size, 1000))


class RowStore:
    """The manifest in memory for the app; every method is safe to call from several threads."""

    def __init__(self, manifest: Path, predictions: Path | None = None) -> None:
        self.path = Path(manifest)
        self.root = self.path.resolve().parent
        self.lock = threading.RLock()
        self.version = 0  # bumped when the file changed underneath (another command wrote it)
        self.predictions = _read_predictions(predictions) if predictions else None
        self.frame = pd.DataFrame()
        self.positions: dict[str, int] = {}
        self.known: tuple[int, int, int] | None = None
        self.load()

    def load(self) -> None:
        """Read the manifest again (the caller re-applies decisions not yet written)."""
        with self.lock:
            before = stamp(self.path)
            frame = io.read(self.path).reset_index(drop=True)
            if schema.WIDTH in frame and schema.HEIGHT in frame:
                frame["_pixels"] = (frame[schema.WIDTH] * frame[schema.HEIGHT]).astype("Float64")
            self.frame = frame
            shas = frame[schema.SHA256].astype("string")
            self.positions = {s: i for i, s in enumerate(shas) if isinstance(s, str)}
            self.known = before
            self._facets: dict[str, list[list[Any]]] | None = None

    def changed_on_disk(self) -> bool:
        """Whether the file is not the one last read or written by this app."""
        return stamp(self.path) != self.known

    def written(self) -> None:
        """Record the file as this app just wrote it (its own writes are not a change underneath)."""
        self.known = stamp(self.path)

    def file_for(self, sha: str) -> Path | None:
        """The image file of the row with this sha256, or None: only files the manifest names."""
        with self.lock:
            pos = self.positions.get(sha)
            if pos is None:
                return None
            rel = self.frame.at[pos, schema.PATH]
        if not isinstance(rel, str) or not rel:
            return None
        target = self.root / rel
        return target if target.is_file() else None

    def get(self, sha: str, column: str) -> Any:
        """One cell of the row with this sha256 as plain Python (None when missing)."""
        with self.lock:
            pos = self.positions.get(sha)
            if pos is None or column not in self.frame.columns:
                return None
            return plain(self.frame.at[pos, column])

    def set(self, sha: str, values: dict[str, Any]) -> None:
        """Change cells of the row with this sha256 in memory (a decision or its undo)."""
        with self.lock:
            pos = self.positions.get(sha)
            if pos is None:
                return
            for column, value in values.items():
                if column not in self.frame.columns:
                    self.frame[column] = pd.Series(pd.NA, index=self.frame.index,
                                                   dtype=schema.dtype_of(column))
                self.frame.at[pos, column] = pd.NA if value is None else value
            self._facets = None

    def classes(self) -> list[str]:
        """The labels in the manifest (and the suggested ones), sorted."""
        with self.lock:
            values = set(self.frame[schema.LABEL].dropna())
            if schema.SUGGESTED_LABEL in self.frame.columns:
                values |= set(self.frame[schema.SUGGESTED_LABEL].dropna())
        return sorted(str(v) for v in values)

    def filter_columns(self) -> list[str]:
        """The columns a view can filter on: the declared ones present, then the group columns."""
        present = [c for c in FILTERS if c in self.frame.columns and self.frame[c].notna().any()]
        return list(dict.fromkeys([*present, *io.group_columns(self.frame)]))

    def facets(self) -> dict[str, list[list[Any]]]:
        """Per filter column, its values and counts (flags: yes / no), most frequent first."""
        with self.lock:
            if self._facets is None:
                self._facets = {c: _facet(self.frame, c) for c in self.filter_columns()}
            return self._facets

    def page(self, query: Query) -> dict[str, Any]:
        """One page of cards: ``total`` rows match, ``rows`` from ``offset``."""
        with self.lock:
            frame = self._view(query)
            picked = frame.iloc[query.offset:query.offset + query.limit]
            return {"total": len(frame), "offset": query.offset, "version": self.version,
                    "rows": cards(picked, self.predictions)}

    def _view(self, query: Query) -> pd.DataFrame:
        frame = self.frame[self.frame[schema.SHA256].notna()]
        sort = query.sort
        if query.view == "issues":
            has = schema.LABEL_ISSUE in frame.columns
            frame = frame[truthy(frame[schema.LABEL_ISSUE])] if has else frame.iloc[:0]
            sort = sort or "quality"
        elif query.view == "mistakes":
            frame, sort = self._mistakes(frame), sort or "-confidence"
        frame = frame[matches(frame, query.filters, self.filter_columns())]
        return ordered(frame, sort, self.predictions)

    def _mistakes(self, frame: pd.DataFrame) -> pd.DataFrame:
        if self.predictions is None:
            return frame.iloc[:0]
        pred = pd.Series(self.predictions[PREDICTION].reindex(frame[schema.SHA256].to_numpy()).to_numpy(),
                         index=frame.index, dtype="string")
        wrong = pred.notna() & pred.ne(frame[schema.LABEL].astype("string")).fillna(True)
        return frame[wrong.astype(bool)]

    def counts(self) -> dict[str, Any]:
        """What the app opens on: rows, images, labels, label issues, clusters, model mistakes."""
        with self.lock:
            frame = self.frame
            issues = int(truthy(frame[schema.LABEL_ISSUE]).sum()) if schema.LABEL_ISSUE in frame else 0
            clustered = frame[frame[schema.DUP_CLUSTER].notna()]
            mixed = clustered.groupby(schema.DUP_CLUSTER)[schema.LABEL].nunique() > 1
            mistakes = len(self._mistakes(frame)) if self.predictions is not None else None
            return {"manifest": str(self.path), "rows": len(frame),
                    "images": int(frame[schema.PATH].notna().sum()), "classes": self.classes(),
                    "label_issues": issues, "clusters": len(mixed), "mixed_clusters": int(mixed.sum()),
                    "mistakes": mistakes}


def plain(value: Any) -> Any:
    """A cell as JSON-able Python: None for missing values, numbers as int or float."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return value.item() if hasattr(value, "item") else value


def matches(frame: pd.DataFrame, filters: Iterable[tuple[str, str]], allowed: list[str]) -> pd.Series:
    """Rows that pass every filter; a filter on a column the view does not offer matches nothing."""
    mask = pd.Series(True, index=frame.index)
    for column, value in filters:
        if column not in allowed:
            return pd.Series(False, index=frame.index)
        col = frame[column]
        if column == schema.OFF_TOPIC:
            try:
                mask &= (pd.to_numeric(col, errors="coerce") < float(value)).fillna(False).astype(bool)
            except ValueError:
                return pd.Series(False, index=frame.index)
        elif column in FLAGS:
            flag = truthy(col) if column == schema.LABEL_ISSUE else col.notna()
            mask &= flag if value == "yes" else ~flag
        elif value == NONE:
            mask &= col.isna()
        else:
            mask &= col.astype("string").eq(value).fillna(False).astype(bool)
    return mask


def ordered(frame: pd.DataFrame, sort: str, predictions: pd.DataFrame | None) -> pd.DataFrame:
    """The rows in the asked order (missing values last), manifest order for an unknown sort."""
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    if name == CONFIDENCE and predictions is not None:
        key = predictions[CONFIDENCE].reindex(frame[schema.SHA256].to_numpy()).to_numpy()
        return frame.iloc[pd.Series(key).sort_values(ascending=not descending, kind="stable",
                                                     na_position="last").index]
    if name not in SORTS or SORTS[name][0] not in frame.columns:
        return frame
    column, ascending = SORTS[name]
    return frame.sort_values(column, ascending=ascending != descending, kind="stable", na_position="last")


def cards(rows: pd.DataFrame, predictions: pd.DataFrame | None) -> list[dict[str, Any]]:
    """The fields a card shows, one dict per row."""
    present = [c for c in CARD if c in rows.columns]
    out = [{c: plain(v) for c, v in zip(present, values, strict=True)}
           for values in rows[present].itertuples(index=False, name=None)]
    if predictions is not None:
        found = predictions.reindex(rows[schema.SHA256].to_numpy())
        for card, pred, conf in zip(out, found[PREDICTION], found[CONFIDENCE], strict=True):
            card[PREDICTION], card[CONFIDENCE] = plain(pred), plain(conf)
    return out


def _facet(frame: pd.DataFrame, column: str) -> list[list[Any]]:
    if column == schema.OFF_TOPIC:
        return [[str(t), int((pd.to_numeric(frame[column], errors="coerce") < t).sum())]
                for t in (0.1, 0.2, 0.5)]
    if column in FLAGS:
        flag = truthy(frame[column]) if column == schema.LABEL_ISSUE else frame[column].notna()
        return [["yes", int(flag.sum())], ["no", int((~flag).sum())]]
    counts = frame[column].astype("string").fillna(NONE).value_counts().head(500)
    return [[str(k), int(v)] for k, v in counts.items()]


def _read_predictions(path: Path) -> pd.DataFrame:
    """A run's predictions.csv indexed by sha256 (prediction, confidence)."""
    try:
        table = pd.read_csv(path, usecols=[schema.SHA256, PREDICTION, CONFIDENCE],
                            dtype={schema.SHA256: "string", PREDICTION: "string"})
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise InputError(f"{path}: not a predictions file of `train` ({exc})") from None
    return table.drop_duplicates(schema.SHA256, keep="last").set_index(schema.SHA256)
