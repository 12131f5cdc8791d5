"""``harvest folder``: import labelled screenshot folders.

Labels come from the class folder (torchvision ImageFolder / Keras flow_from_directory layout); a
``train``/``val``/``test`` folder above the class folder fills the ``split`` column. ``--pattern``
pulls more fields out of the path (``{street}/cog_{suit}_{entity}_{n}.png``), each one a column.

Files stay where they are (``path`` relative to the manifest) unless ``copy`` puts them in the image
store. Every image file becomes a row, unreadable ones with a ``status`` saying why; other files are
skipped and counted. Files already in the manifest with the same size are not read again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from manifests import InputError, RowSink, UsageError, lineage, read, schema
from manifests.progress import Progress

from .collector import Collector
from .pattern import PathPattern, compile_pattern
from .store import Limits, inspect_file, store_file
from .summary import RunSummary

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset(Image.registered_extensions()) | {".svg", ".heic", ".heif", ".avif"}
CHUNK = 64


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
    """

    root: Path
    pattern: str | None = None
    label_field: str | None = None
    label: str | None = None
    copy: bool = False
    workers: int | None = None
    limits: Limits = Limits()

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))
        if self.workers is not None and self.workers < 1:
            raise UsageError(f"--workers must be 1 or more, not {self.workers}")
        pattern = compile_pattern(self.pattern) if self.pattern else None  # raises UsageError
        if self.label_field and (pattern is None or self.label_field not in pattern.fields):
            raise UsageError(f"--label-field {self.label_field!r} is not a field of --pattern")


@dataclass
class FolderSummary(RunSummary):
    """A folder import: the counts, plus the fields the path pattern made columns."""

    pattern_fields: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        return {**data, "pattern_fields": self.pattern_fields} if self.pattern_fields else data


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

    def files(self) -> Iterator[tuple[Path, str]]:
        """Every non-hidden file under the root, sorted, with its ``/``-separated relative path."""
        root = self.options.root
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(names):
                if not name.startswith("."):
                    path = Path(folder) / name
                    yield path, path.relative_to(root).as_posix()

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
        if fields.get(schema.SPLIT) in schema.SPLIT_ALIASES:
            fields[schema.SPLIT] = schema.SPLIT_ALIASES[fields[schema.SPLIT]]
        return fields

    def _tasks(self, sink: RowSink, summary: RunSummary) -> list[_Task]:
        known = read(sink.path)
        known = known[known[schema.SOURCE] == self.source]
        seen = dict(zip(known[schema.ORIGIN].astype(str), known[schema.BYTES], strict=True))
        store_root = str(sink.path.parent) if self.options.copy else None
        tasks = []
        for path, rel in self.files():
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                summary.skip("not_image_file", rel)
                continue
            fields = self.fields_for(rel)
            if fields is None:
                summary.skip("unmatched", rel)
                continue
            origin = str(path.resolve())
            size = seen.get(origin)
            if size is not None and size == _size(path):
                summary.known += 1
                continue
            tasks.append(_Task(origin, {**fields, schema.ORIGIN: origin}, store_root,
                               self.options.limits))
        return tasks

    def run(self, sink: RowSink, progress: Progress | None = None) -> FolderSummary:
        """Verify and record every image under the root."""
        root = self.options.root
        if not root.is_dir():
            raise InputError(f"{root} is not a folder")
        progress = self.progress_or_none(progress)
        summary = self.new_summary()
        tasks = self._tasks(sink, summary)
        progress.total(len(tasks), f"importing {root}")
        base = sink.path.parent.resolve()
        for task, row in _map(_inspect, tasks, self.options.workers):
            row[schema.PATH] = os.path.relpath(row[schema.PATH], base).replace(os.sep, "/")
            row.update({**task.fields, schema.SOURCE: self.source,
                        schema.HARVESTED_AT: lineage.now()})
            sink.add(row)
            summary.record(row.get(schema.LABEL), row[schema.STATUS])
            progress.advance()
        sink.flush()
        summary.merge = sink.stats
        if self.pattern:
            summary.pattern_fields = list(self.pattern.fields)
        return summary


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _map(fn: Any, tasks: list[_Task], workers: int | None) -> Iterator[Any]:
    """Map over tasks in a process pool, in order; small jobs stay in this process."""
    workers = workers or os.cpu_count() or 1
    if workers <= 1 or len(tasks) < CHUNK:
        yield from map(fn, tasks)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(fn, tasks, chunksize=CHUNK)
