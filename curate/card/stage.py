"""``curate card`` and the card of ``curate export``: gather the facts, write README.md and
croissant.json.

:func:`write_card` writes the card of a manifest alone (``curate card MANIFEST -o CARD.md``): the
dataset it describes is the manifest's ok rows with a path and a label. :class:`ExportCard` is what
``curate export`` hands its format: after the images and metadata files are written, it writes the
card of exactly the exported rows, ``records/<split>.csv`` and ``croissant.json`` into the export
folder.

Example::

    from curate.card import CardOptions, write_card
    result = write_card(Path("data/manifest.csv"), Path("data/CARD.md"), CardOptions())
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

import manifests
from manifests import UsageError, schema

from .. import frames
from ..contract import StageResult
from ..text import plural
from . import croissant, markdown
from .facts import CardFacts, gather

CARD_FILE = "README.md"
CROISSANT_FILE = "croissant.json"


def card_files(split_dirs: list[str]) -> list[str]:
    """The files an export's card writes for these split folders."""
    return [CARD_FILE, CROISSANT_FILE, *(croissant.records_file(d) for d in split_dirs)]


@dataclass(frozen=True)
class CardOptions:
    """How to write a card.

    Args:
        name: the dataset's name on the card (default: the manifest's folder name).
    """

    name: str | None = None

    def __post_init__(self) -> None:
        if self.name is not None and not self.name.strip():
            raise UsageError("--name takes the dataset's name, e.g. 'ToonTown cogs'")


@dataclass
class CardResult(StageResult):
    """What a card says in numbers, and where it was written."""

    path: Path = Path()
    images: int = 0
    per_split: dict[str, int] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    sources: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, facts: CardFacts, path: Path, files: list[str] | None = None) -> CardResult:
        per_split = {s: sum(c.get(s, 0) for c in facts.per_class.values()) for s in facts.splits}
        return cls(path, facts.images, per_split, facts.labels, {s.collector: s.rows for s in facts.sources},
                   files or [path.name])

    def data(self) -> dict[str, Any]:
        return {"path": str(self.path), "images": self.images, "per_split": self.per_split,
                "labels": self.labels, "sources": self.sources, "files": self.files}

    def lines(self) -> list[str]:
        splits = ", ".join(f"{n} {s}" for s, n in self.per_split.items() if s != "(missing)") or "not split"
        return [f"dataset card {self.path}: {plural(self.images, 'image')} ({splits}), "
                f"{plural(len(self.labels), 'class', 'classes')}, "
                f"sources: {', '.join(f'{k} {v}' for k, v in self.sources.items())}"]


def dataset_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows a card of the manifest alone describes: ok, with a path and a label."""
    ok = frame[frames.is_ok(frame)]
    return ok[ok[schema.PATH].notna() & ok[schema.LABEL].notna()]


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write_card(manifest: Path, out: Path, options: CardOptions) -> CardResult:
    """The ``curate card`` stage: read ``manifest`` and its lineage log, write the card to ``out``."""
    frame = manifests.read(manifest)
    rows = dataset_rows(frame)
    if rows.empty:
        raise manifests.InputError(f"{manifest}: no ok rows with a path and a label to describe")
    name = options.name or manifest.resolve().parent.name
    facts = gather(frame, rows, manifests.lineage_entries(manifest), name)
    write_text(out, markdown.render(facts))
    return CardResult.of(facts, out)


@dataclass(frozen=True)
class ExportCard:
    """What ``curate export`` needs to write its card besides the exported rows: the whole manifest,
    its lineage log, the dataset's name and what the licence filter did."""

    frame: pd.DataFrame
    entries: list[dict[str, Any]]
    name: str
    excluded: dict[str, int] = field(default_factory=dict)
    rule: str = ""
    resize: int | None = None

    def write(self, rows: pd.DataFrame, rel_of: dict[Any, str], outdir: Path, meta_files: list[str],
              split_dir: Callable[[str], str]) -> list[str]:
        """Write records/<split>.csv, README.md and croissant.json for the exported ``rows`` (their
        files: ``rel_of``); returns the files written, relative to ``outdir``."""
        rows = rows.copy()
        rows[schema.SPLIT] = rows[schema.SPLIT].astype(str)
        facts = gather(self.frame, rows, self.entries, self.name, self.excluded, self.rule)
        layout: dict[str, list[str]] = {}
        for split in facts.splits:
            rels = sorted({rel_of[i] for i in rows.index[rows[schema.SPLIT] == split]})
            folder = split_dir(split)
            if rels and all(r.endswith(".tar") for r in rels):
                layout[folder], facts.files[split] = rels, f"{folder}/*.tar"
            else:
                exts = sorted({Path(r).suffix.lower() for r in rels})
                layout[folder], facts.files[split] = [f"{folder}/*/*{e}" for e in exts], f"{folder}/**"
        groups = list(facts.groups)
        table, written = croissant.records(rows, rel_of, groups), []
        for split in facts.splits:
            rel = croissant.records_file(split_dir(split))
            (outdir / rel).parent.mkdir(parents=True, exist_ok=True)
            table[table[schema.SPLIT] == split].to_csv(outdir / rel, index=False, encoding="utf-8")
            written.append(rel)
        write_text(outdir / CARD_FILE, markdown.render(facts))
        columns = croissant.record_columns(rows, groups)
        doc = croissant.document(facts, outdir, layout, [*meta_files, *written, CARD_FILE], columns,
                                 self.resize)
        croissant.write(doc, outdir / CROISSANT_FILE)
        return [*written, CARD_FILE, CROISSANT_FILE]
