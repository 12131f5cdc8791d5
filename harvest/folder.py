"""``harvest folder``: import labelled screenshot folders.

Labels come from the class folder (torchvision ImageFolder / Keras flow_from_directory layout); a
``train``/``val``/``test`` folder above the class folder fills the ``split`` column. ``--pattern``
pulls more fields out of the path (``{street}/cog_{suit}_{entity}_{n}.png``), each one a column.

Files stay where they are (``path`` relative to the manifest) unless ``copy`` puts them in the image
store. Every image file becomes a row, unreadable ones with a ``status`` saying why; other files are
skipped and counted. Files already in the manifest with the same size are not read again, but the
fields their path gives now (a new ``--pattern`` or ``--label-field``) are written to their rows, and
counted as ``updated`` (a ``split`` already set is kept); rows of
files that changed or vanished since become ``replaced`` or ``missing`` (:mod:`harvest.folderscan`,
which also handles undecodable names and symbolic links). Labels are normalised to Unicode NFC, so
a folder name typed on macOS (NFD) and on Linux (NFC) is one label.

Without a pattern only the folder holding a file is read (its label); a tree deeper than
``label/file`` (``streets/<street>/<label>/shot.png``) is imported so, with one hint naming the
``--pattern`` that keeps the folders above the label as columns.
"""

from __future__ import annotations

import logging
import os
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from manifests import InputError, RowSink, UsageError, lineage, read, schema, update
from manifests.executor import ExecutorSpec, partitions, run_partitions
from manifests.images import is_image_name
from manifests.progress import Progress
from manifests.store import Limits, inspect_file, store_file

from .collector import Collector
from .folderscan import outside_row, reconcile, walk
from .pattern import PathPattern, compile_pattern
from .summary import RunSummary

log = logging.getLogger(__name__)

CHUNK = 64
AUTO = "auto"  # --group-field auto: the pattern's location-like fields
# Pattern fields that name where an image was taken: recorded as group columns unless told otherwise.
GROUP_LIKE = frozenset({"street", "location", "site", "place", "area", "zone", "map", "level", "stage",
                        "room", "scene", "video", "episode", "session", "album", "camera"})


@dataclass(frozen=True)
class FolderOptions:
    """Options of ``harvest folder``.

    Attributes:
        root: the folder to import.
        pattern: optional path pattern; its fields become columns, non-matching files are skipped.
        label_field: pattern field that holds the label (default: the class folder).
        label: one label for every file (overrides both).
        copy: copy files into the image store instead of referring to them where they are.
        workers: processes that verify images (``None``: one per core).
        limits: byte and pixel limits of the image store.
        group_fields: pattern fields that group related images (a street, a site, a stage): the
            manifest records them, so ``curate split`` keeps each value in one split and ``train``
            reports accuracy per value. ``None`` (default): the pattern's location-like fields
            (:data:`GROUP_LIKE`), which ``"auto"`` also names among others; ``()``: none.
        follow_links: import what symbolic links lead to even outside the root (otherwise such
            links are ``outside_root`` rows and symlinked folders are not entered).
        executor: where verification runs (local processes by default, or Dask: workers must see
            the folder and the manifest's folder at the same paths).
    """

    root: Path
    pattern: str | None = None
    label_field: str | None = None
    label: str | None = None
    copy: bool = False
    workers: int | None = None
    limits: Limits = Limits()
    group_fields: tuple[str, ...] | None = None
    follow_links: bool = False
    executor: ExecutorSpec | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))
        if self.workers is not None and self.workers < 1:
            raise UsageError(f"--workers must be 1 or more, not {self.workers}")
        pattern = compile_pattern(self.pattern) if self.pattern else None  # raises UsageError
        if self.label_field and (pattern is None or self.label_field not in pattern.fields):
            raise UsageError(f"--label-field {self.label_field!r} is not a field of --pattern")
        fields = pattern.fields if pattern else ()
        unknown = [f for f in self.group_fields or () if f not in fields and f != AUTO]
        if unknown:
            raise UsageError(f"--group-field {unknown[0]!r} is not a field of --pattern"
                             + (f" (fields: {', '.join(fields)})" if fields else ""))


@dataclass
class FolderSummary(RunSummary):
    """A folder import: the counts, plus the fields the path pattern made columns and the group columns
    recorded among them."""

    pattern_fields: list[str] = field(default_factory=list)
    group_columns: list[str] = field(default_factory=list)
    reconciled: dict[str, int] = field(default_factory=dict)  # rows made replaced / missing
    updated: int = 0  # rows already present whose path fields changed (a new --pattern, --label-field)
    updated_columns: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)  # what the user may have meant (a deeper tree)

    def to_dict(self) -> dict[str, Any]:
        data = {**super().to_dict(), "reconciled": self.reconciled, "updated": self.updated,
                "updated_columns": self.updated_columns,
                **({"hints": list(self.hints)} if self.hints else {})}
        if not self.pattern_fields:
            return data
        return {**data, "pattern_fields": self.pattern_fields, "group_columns": self.group_columns}

    def lines(self) -> list[str]:
        out = []
        if self.updated:
            out.append(f"{self.updated} rows already present updated from their path "
                       f"({', '.join(self.updated_columns)}).")
        return out + [f"hint: {h}" for h in self.hints]


@dataclass(frozen=True)
class _Task:
    file: str
    fields: dict[str, Any]
    store_root: str | None
    limits: Limits


def _inspect(task: _Task) -> tuple[_Task, dict[str, Any]]:
    if task.store_root is None:
        return task, {**inspect_file(task.file, task.limits).row(), schema.PATH: task.file}
    info, rel = store_file(task.file, task.store_root, task.limits)
    stored = str(Path(task.store_root) / rel) if rel else task.file
    return task, {**info.row(), schema.PATH: stored}


def _inspect_many(tasks: Sequence[_Task]) -> list[tuple[_Task, dict[str, Any]]]:
    return [_inspect(task) for task in tasks]


def layout_fields(parts: list[str], root_name: str) -> dict[str, str]:
    """Label and split from an ImageFolder-style path (``[split/]class/file``)."""
    fields: dict[str, str] = {}
    ancestors = [root_name, *parts[:-1]]
    if len(parts) >= 2:
        parent = parts[-2]
        if parent.lower() in schema.SPLIT_ALIASES:
            fields[schema.SPLIT] = schema.SPLIT_ALIASES[parent.lower()]
            return fields
        fields[schema.LABEL] = parent
        ancestors = ancestors[:-1]
    for name in reversed(ancestors):
        if name.lower() in schema.SPLIT_ALIASES:
            fields[schema.SPLIT] = schema.SPLIT_ALIASES[name.lower()]
            break
    return fields


class FolderCollector(Collector):
    """Import image files from a folder tree, labels from folders or a path pattern."""

    name = "folder"
    source = "folder"
    example = "harvest folder screenshots/ --pattern '{street}/cog_{suit}_{n}.png' --label-field suit"
    options_type = FolderOptions
    summary_type = FolderSummary

    options: FolderOptions

    def __init__(self, options: FolderOptions) -> None:
        super().__init__(options)
        self._root_name = Path(os.path.abspath(options.root)).name  # no filesystem access here
        self.pattern: PathPattern | None = compile_pattern(options.pattern) if options.pattern else None
        self.normalised: set[str] = set()  # labels rewritten to NFC
        self.updates: dict[str, dict[str, Any]] = {}  # origin -> path fields its row lacks

    def groups(self) -> tuple[str, ...]:
        """The ``group_fields`` asked for (``auto``: the location-like ones), ``auto`` by default."""
        asked = (AUTO,) if self.options.group_fields is None else self.options.group_fields
        fields = self.pattern.fields if self.pattern else ()
        like = [f for f in fields if f in GROUP_LIKE and f != self.options.label_field]
        return tuple(dict.fromkeys(g for f in asked for g in (like if f == AUTO else [f])))

    def files(self) -> Iterator[tuple[Path, str]]:
        """Every non-hidden file under the root, sorted, with its ``/``-separated relative path."""
        for entry in walk(self.options.root, self.options.follow_links, self.new_summary()):
            yield entry.path, entry.rel

    def fields_for(self, rel: str) -> dict[str, Any] | None:
        """Columns derived from a relative path; ``None`` when the pattern does not match."""
        opts = self.options
        fields: dict[str, Any] = layout_fields(rel.split("/"), self._root_name)
        if self.pattern:
            matched = self.pattern.match(rel)
            if matched is None:
                return None
            fields.update(matched)
            if opts.label_field:
                fields[schema.LABEL] = matched[opts.label_field]
        if opts.label:
            fields[schema.LABEL] = opts.label
        label = fields.get(schema.LABEL)
        if isinstance(label, str) and not unicodedata.is_normalized("NFC", label):
            fields[schema.LABEL] = unicodedata.normalize("NFC", label)
            self.normalised.add(label)
        if fields.get(schema.SPLIT) in schema.SPLIT_ALIASES:
            fields[schema.SPLIT] = schema.SPLIT_ALIASES[fields[schema.SPLIT]]
        return fields

    def _tasks(self, sink: RowSink, summary: RunSummary
               ) -> tuple[list[_Task], list[dict[str, Any]], set[str]]:
        """Files to read, rows made without reading (links leaving the root) and every origin seen.

        Known files are not read again; the fields their path gives now that differ from their row
        go to ``self.updates``."""
        known = read(sink.path)
        known = known[(known[schema.SOURCE] == self.source) & ~known[schema.STATUS].isin(GONE)]
        origins = known[schema.ORIGIN].astype(str)
        seen = dict(zip(origins, known[schema.BYTES], strict=True))
        cols = [c for c in dict.fromkeys((schema.LABEL, schema.SPLIT,
                                          *(self.pattern.fields if self.pattern else ())))
                if c in known.columns]
        stored = dict(zip(origins, known[cols].to_dict("records"), strict=True))
        deep = _Deep()
        store_root = str(sink.path.parent) if self.options.copy else None
        tasks, rows, found = [], [], set()
        for entry in walk(self.options.root, self.options.follow_links, summary):
            path, rel = entry.path, entry.rel
            origin = str(path.resolve())
            if not entry.outside:
                found.add(origin)  # present, whether or not this run's options import it
            if not is_image_name(path):
                summary.skip("not_image_file", rel)
                continue
            fields = self.fields_for(rel)
            if fields is None:
                summary.skip("unmatched", rel)
                continue
            if self.pattern is None and self.options.label is None:
                deep.see(rel)
            if entry.outside:
                rows.append({**fields, **outside_row(entry, self.options.root)})
                continue
            size = seen.get(origin)
            if size is not None and size is not pd.NA and size == _size(path):
                summary.known += 1
                changed = _changed(stored.get(origin, {}), fields)
                if changed:
                    self.updates[origin] = changed
                continue
            tasks.append(_Task(origin, {**fields, schema.ORIGIN: origin}, store_root,
                               self.options.limits))
        if isinstance(summary, FolderSummary) and deep.count:
            summary.hints.append(deep.hint())
        return tasks, rows, found

    def _update_known(self, manifest: Path, summary: FolderSummary) -> None:
        """Write the path fields that changed to the rows of files already present (one transaction)."""
        if not self.updates:
            return
        columns = list(dict.fromkeys(c for f in self.updates.values() for c in f))
        with update(manifest) as tx:
            frame = tx.frame
            origin = frame[schema.ORIGIN].astype("string")
            mine = ((frame[schema.SOURCE] == self.source) & ~frame[schema.STATUS].isin(GONE)
                    & origin.isin(list(self.updates))).fillna(False)
            for col in columns:
                values = origin.map({o: f[col] for o, f in self.updates.items() if col in f})
                hit = mine & values.notna()
                if col not in frame.columns:
                    frame[col] = pd.Series(pd.NA, index=frame.index, dtype="string")
                frame.loc[hit, col] = values[hit]
            tx.frame = frame
            tx.details = {"updated": int(mine.sum()), "columns": columns}
        summary.updated, summary.updated_columns = int(mine.sum()), columns

    def run(self, sink: RowSink, progress: Progress | None = None) -> FolderSummary:
        """Verify and record every image under the root."""
        root = self.options.root
        if not root.is_dir():
            raise InputError(f"{root} is not a folder")
        progress = self.progress_or_none(progress)
        summary = self.new_summary()
        self.declare_groups(sink)
        tasks, ready, found = self._tasks(sink, summary)
        progress.total(len(tasks), f"importing {root}")
        base = sink.path.parent.resolve()
        current: dict[str, str | None] = {}
        for row in ready:
            row.update({schema.SOURCE: self.source, schema.HARVESTED_AT: lineage.now()})
            sink.add(row)
            summary.record(row.get(schema.LABEL), row[schema.STATUS])
        spec = self.options.executor or ExecutorSpec(workers=self.options.workers)
        for task, row in _map(tasks, spec):
            row[schema.PATH] = os.path.relpath(row[schema.PATH], base).replace(os.sep, "/")
            row.update({**task.fields, schema.SOURCE: self.source,
                        schema.HARVESTED_AT: lineage.now()})
            current[task.file] = row[schema.SHA256] if row[schema.STATUS] == schema.OK else None
            sink.add(row)
            summary.record(row.get(schema.LABEL), row[schema.STATUS])
            progress.advance()
        sink.flush()
        summary.merge = sink.stats
        self._update_known(sink.path, summary)
        summary.reconciled = reconcile(sink.path, root, self.source, found, current)
        if self.pattern:
            summary.pattern_fields = list(self.pattern.fields)
            summary.group_columns = list(self.groups())
        summary.warnings += self._warnings(summary, len(tasks) + len(ready) + summary.known)
        return summary

    def _warnings(self, summary: RunSummary, images: int) -> list[str]:
        """One line for each thing that silently did nothing (said once each)."""
        root, out = self.options.root, []
        if not images and not summary.skipped:
            out.append(f"{root} holds no files: nothing imported")
        elif not images and self.pattern and summary.skipped.get("unmatched"):
            out.append(f"--pattern {self.options.pattern!r} matched none of the "
                       f"{summary.skipped['unmatched']} image files under {root}")
        elif not images:
            out.append(f"{root} holds no image files: nothing imported")
        if summary.skipped.get("symlinked_folder"):
            out.append(f"{summary.skipped['symlinked_folder']} symlinked folders not entered "
                       "(--follow-links enters them)")
        if summary.skipped.get("undecodable_name"):
            out.append(f"{summary.skipped['undecodable_name']} files skipped: their names are "
                       "not valid UTF-8")
        if self.normalised:
            shown = ", ".join(sorted(repr(n) for n in self.normalised)[:3])
            out.append(f"labels normalised to Unicode NFC: {shown}")
        for line in out:
            log.info("%s", line)  # the CLI prints them once as warnings
        return out


GONE = (schema.REPLACED, schema.MISSING, schema.OUTSIDE_ROOT)


def _changed(row: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """The ``fields`` a known file's path gives now that its row lacks or holds otherwise (a ``split``
    already set is the split's, never overwritten)."""
    out = {}
    for key, value in fields.items():
        if key == schema.ORIGIN or value is None:
            continue
        old = row.get(key)
        empty = old is None or old is pd.NA or (isinstance(old, float) and old != old)
        if key == schema.SPLIT and not empty:
            continue
        if empty or str(old) != str(value):
            out[key] = value
    return out


@dataclass
class _Deep:
    """Files lying deeper than ``label/file`` (the folders above the label are not read without a
    pattern): how many, how deep, and one example."""

    count: int = 0
    levels: int = 0
    example: str = ""

    def see(self, rel: str) -> None:
        folders = [p for p in rel.split("/")[:-2] if p.lower() not in schema.SPLIT_ALIASES]
        if folders:
            self.count += 1
            if len(folders) > self.levels:
                self.levels, self.example = len(folders), rel

    def hint(self) -> str:
        names = ["group"] if self.levels == 1 else [f"group{i + 1}" for i in range(self.levels)]
        pattern = "/".join(f"{{{n}}}" for n in names) + "/{label}/{file}"
        return (f"{self.count} files lie deeper than label/file (e.g. {self.example}): only the folder "
                f"holding each file is read (its label); --pattern '{pattern}' --group-field "
                f"{','.join(names)} keeps the folders above as columns (name the fields as you like)")


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _map(tasks: list[_Task], spec: ExecutorSpec) -> Iterator[tuple[_Task, dict[str, Any]]]:
    """Verify tasks in partitions of :data:`CHUNK` on the executor, in order; a job smaller than one
    partition stays in this process."""
    for part in run_partitions(_inspect_many, partitions(tasks, CHUNK), spec):
        yield from part
