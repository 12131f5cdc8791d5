"""The export formats of ``curate export``, in a registry: one small class per layout.

Each :class:`Exporter` names where an image goes (:meth:`Exporter.rel`) and which metadata files it
writes (:meth:`Exporter.finish`); the base class places the images incrementally. ``webdataset`` packs
samples into tar shards instead of placing files.

==============  ================================================================================
imagefolder     ``OUT/{train,val,test}/<label>/<file>``: torchvision ``ImageFolder``, Keras
                ``image_dataset_from_directory``
hf              ``OUT/{train,validation,test}/<label>/<file>`` and a ``metadata.jsonl`` per split
                (``file_name``, ``label``, metadata): ``datasets.load_dataset("imagefolder", ...)``
fastai          the imagefolder layout and ``labels.csv`` (``fname``, ``label``, ``is_valid``) for
                ``ImageDataLoaders.from_df``; the test rows in ``test.csv``
webdataset      ``OUT/<split>/<split>-000000.tar``... with ``.jpg``/``.png``/``.webp``, ``.cls``, ``.json``
csv             the imagefolder layout and ``dataset.csv`` (``path``, ``label``, ``split``, metadata)
==============  ================================================================================

The CSVs (``classes.csv``, ``labels.csv``, ``test.csv``, ``dataset.csv``) are made safe to open in a
spreadsheet (:func:`curate.export.files.write_csv`): a text cell starting with ``=``, ``+``, ``-``,
``@``, tab or CR gets a leading ``'`` (plain numbers such as ``-1`` excepted), and rows end in CRLF so
every field holding a CR or LF is quoted.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd

from manifests import MissingToolError, UsageError, images, schema
from manifests.progress import NoProgress, Progress
from manifests.store import KEEP_FORMATS, reencode

from ..card import ExportCard, card_files
from ..frames import is_search
from .files import (
    ATTRIBUTION_FILE,
    LABELS_FILE,
    Item,
    Journal,
    check_foreign,
    check_sha256,
    metadata,
    mine,
    place,
    read_state,
    remove_parts,
    remove_stale,
    resized_name,
    write_attribution,
    write_csv,
    write_labels,
)
from .result import ExportReport

if TYPE_CHECKING:
    from .stage import ExportOptions


class Exporter:
    """One export layout. Subclasses set ``name``/``help``/``example`` and override what differs."""

    name: ClassVar[str] = ""
    help: ClassVar[str] = ""
    example: ClassVar[str] = ""
    split_dirs: ClassVar[dict[str, str]] = {}

    def split_dir(self, split: str) -> str:
        return self.split_dirs.get(split, split)

    def rel(self, item: Item) -> str:
        """Where an image goes, relative to the output folder."""
        return f"{self.split_dir(item.split)}/{item.folder}/{item.name}"

    def finish(self, rows: pd.DataFrame, rel_of: dict[Any, str], outdir: Path) -> list[str]:
        """Write the format's metadata files; returns their paths relative to ``outdir``."""
        return []

    def meta_names(self, splits: list[str]) -> list[str]:
        """The metadata files :meth:`finish` may write (checked before anything is written)."""
        return []

    def all_meta(self, rows: pd.DataFrame) -> list[str]:
        """Every metadata file this export may write: labels, attribution and the format's own."""
        splits = sorted(set(rows[schema.SPLIT].astype(str)))
        return [LABELS_FILE, ATTRIBUTION_FILE, *self.meta_names(splits),
                *card_files([self.split_dir(s) for s in splits])]

    def check(self, rows: pd.DataFrame, outdir: Path, wanted: dict[str, str], state: dict[str, Any]) -> None:
        """Refuse when an image or metadata file this export would write is someone else's."""
        planned = {**wanted, **dict.fromkeys(self.all_meta(rows), "")}
        check_foreign(outdir, planned, dict.fromkeys(mine(state)))

    def start(self, rows: pd.DataFrame, outdir: Path, key: dict[str, Any], wanted: dict[str, str],
              done: dict[str, str], state: dict[str, Any]) -> Journal:
        """Before anything is written: drop a killed run's ``.part`` files and stale files, then record
        every file this export may write, so that a kill from here on leaves a state a rerun resumes."""
        remove_parts(outdir, mine(state))
        old = dict.fromkeys([*state.get("files", {}), *state.get("claimed", [])])
        removed = remove_stale(outdir, old, wanted)
        journal = Journal(outdir, key, done, [*wanted, *self.all_meta(rows)], state.get("meta", []))
        journal.removed = removed
        journal.save()
        return journal

    def write(self, rows: pd.DataFrame, items: list[Item], folders: dict[str, str], outdir: Path,
              options: ExportOptions, report: ExportReport, progress: Progress | None = None,
              card: ExportCard | None = None) -> None:
        """Place the images incrementally, then write labels, attribution, the format's files and the
        card (README.md, croissant.json, records/<split>.csv)."""
        state = read_state(outdir)
        key = {"format": self.name, "resize": options.resize}
        same = state.get("key") == key
        old: dict[str, str] = state.get("files", {})
        if options.resize:
            items = [_with_name(it, resized_name(it.name, it.src)) if it.src.exists() else it
                     for it in items]
        rel_of = {it.index: self.rel(it) for it in items}
        wanted = {rel_of[it.index]: it.sha256 for it in items}
        self.check(rows, outdir, wanted, state)
        done = {rel: sha for rel, sha in wanted.items()
                if same and old.get(rel) == sha and (outdir / rel).exists()}
        journal = self.start(rows, outdir, key, wanted, done, state)
        report.removed = journal.removed
        todo = [it for it in items if rel_of[it.index] not in done]
        report.kept = len(items) - len(todo)
        progress = progress or NoProgress()
        progress.total(len(todo), f"export {self.name}")

        def one(item: Item) -> str:
            try:
                return place(item.src, outdir / rel_of[item.index], options.copy, options.resize,
                             item.sha256)
            except (OSError, images.ImageError) as exc:
                return f"failed: {item.src}: {exc}"
            finally:
                progress.advance()

        outcomes = []
        with ThreadPoolExecutor(max_workers=4) as pool:
            for item, outcome in zip(todo, pool.map(one, todo), strict=True):
                outcomes.append(outcome)
                if not outcome.startswith("failed"):
                    journal.landed(rel_of[item.index], item.sha256)
        failed = {it.index for it, o in zip(todo, outcomes, strict=True) if o.startswith("failed")}
        report.failed = [o[len("failed: "):] for o in outcomes if o.startswith("failed")]
        report.written = len(todo) - len(failed)
        report.linked = outcomes.count("linked")
        report.copied = len(outcomes) - report.linked - len(failed)
        rows = rows.drop(index=list(failed))
        rel_of = {k: v for k, v in rel_of.items() if k not in failed}
        report.files = self.meta(rows, rel_of, folders, outdir, card)
        self.close(outdir, journal, {r: s for r, s in wanted.items() if r in set(rel_of.values())},
                   report.files, state)

    def close(self, outdir: Path, journal: Journal, files: dict[str, str], meta: list[str],
              state: dict[str, Any]) -> None:
        """Remove metadata files no longer written, then record the final state."""
        remove_stale(outdir, dict.fromkeys([*state.get("meta", []), *journal.claimed]), dict.fromkeys(
            [*files, *meta]))
        journal.finish(files, meta)

    def meta(self, rows: pd.DataFrame, rel_of: dict[Any, str], folders: dict[str, str],
             outdir: Path, card: ExportCard | None = None) -> list[str]:
        files = [write_labels(outdir, folders), *self.finish(rows, rel_of, outdir)]
        if is_search(rows).any():
            files.append(write_attribution(outdir, rows, rel_of))
        elif (outdir / ATTRIBUTION_FILE).exists():
            (outdir / ATTRIBUTION_FILE).unlink()
        if card is not None and not rows.empty:
            files += card.write(rows, rel_of, outdir, list(files), self.split_dir)
        return files


def _with_name(item: Item, name: str) -> Item:
    return Item(item.index, item.src, item.sha256, item.split, item.label, item.folder, name)


class ImageFolder(Exporter):
    """``OUT/<split>/<label>/<file>``: torchvision ``ImageFolder`` and Keras load one split folder."""

    name = "imagefolder"
    help = "OUT/{train,val,test}/<label>/<file> (torchvision ImageFolder, Keras)"
    example = "curate export data/manifest.csv out --format imagefolder"


class HuggingFace(Exporter):
    """The ``datasets`` imagefolder layout: split folders it recognises and a metadata file each.

    The metadata is ``metadata.jsonl`` (``file_name``, ``label`` and the metadata columns) rather than
    ``metadata.csv``: ``datasets`` infers CSV column types per file, so a licence column that is empty in
    one split and filled in another makes the splits' features differ and loading fails. JSON lines
    keep one type per column: text as strings ("" when missing), numbers as numbers.

    ``.huggingface.yaml`` declares the features (``datasets`` reads it beside a dataset card), so
    ``load_dataset("OUT")`` gives ``label`` as a ``ClassLabel`` with the class names, not a string.
    """

    name = "hf"
    help = "Hugging Face imagefolder with metadata.jsonl per split and the features (label: ClassLabel); " \
           "load_dataset('OUT')"
    features_file = ".huggingface.yaml"
    example = "curate export data/manifest.csv out --format hf"
    split_dirs: ClassVar[dict[str, str]] = {"val": "validation"}

    def meta_names(self, splits: list[str]) -> list[str]:
        return [f"{self.split_dir(s)}/metadata.jsonl" for s in splits] + [self.features_file]

    def finish(self, rows: pd.DataFrame, rel_of: dict[Any, str], outdir: Path) -> list[str]:
        extra = [c for c in metadata(rows) if c != schema.LABEL]
        numeric = {c for c in extra if pd.api.types.is_numeric_dtype(rows[c]) and rows[c].notna().all()}
        (outdir / self.features_file).write_text(_hf_features(rows, extra, numeric), encoding="utf-8")
        files = [self.features_file]
        for split, group in rows.groupby(schema.SPLIT, sort=True):
            folder = self.split_dir(str(split))
            lines = []
            for index, row in group.iterrows():
                record = {"file_name": rel_of[index][len(folder) + 1:], "label": str(row[schema.LABEL])}
                for col in extra:
                    value = row[col]
                    record[col] = _plain(value) if col in numeric else ("" if pd.isna(value) else str(value))
                lines.append(json.dumps(record, ensure_ascii=False))
            (outdir / folder / "metadata.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
            files.append(f"{folder}/metadata.jsonl")
        return files


class Fastai(Exporter):
    """The imagefolder layout plus ``labels.csv`` (``fname``, ``label``, ``is_valid``) for from_df."""

    name = "fastai"
    help = "images + labels.csv with fname, label, is_valid (ImageDataLoaders.from_df); test.csv"
    example = "curate export data/manifest.csv out --format fastai"

    def meta_names(self, splits: list[str]) -> list[str]:
        return ["labels.csv", "test.csv"]

    def finish(self, rows: pd.DataFrame, rel_of: dict[Any, str], outdir: Path) -> list[str]:
        split = rows[schema.SPLIT].astype(str)
        table = pd.DataFrame({"fname": [rel_of[i] for i in rows.index],
                              "label": rows[schema.LABEL].astype(str).to_numpy(),
                              "is_valid": (split == "val").to_numpy()}, index=rows.index)
        test = split == "test"
        write_csv(table[~test.to_numpy()], outdir / "labels.csv")
        files = ["labels.csv"]
        if test.any():
            write_csv(table[test.to_numpy()][["fname", "label"]], outdir / "test.csv")
            files.append("test.csv")
        return files


class Csv(Exporter):
    """The imagefolder layout plus ``dataset.csv``: path, label, split and the metadata columns."""

    name = "csv"
    help = "images + dataset.csv with path, label, split and metadata (pandas, Keras from_dataframe)"
    example = "curate export data/manifest.csv out --format csv --copy"

    def meta_names(self, splits: list[str]) -> list[str]:
        return ["dataset.csv"]

    def finish(self, rows: pd.DataFrame, rel_of: dict[Any, str], outdir: Path) -> list[str]:
        table = pd.DataFrame({"path": [rel_of[i] for i in rows.index],
                              "label": rows[schema.LABEL].astype(str).to_numpy(),
                              "split": rows[schema.SPLIT].astype(str).to_numpy()})
        for col in metadata(rows):
            table[col] = rows[col].to_numpy()
        write_csv(table, outdir / "dataset.csv")
        return ["dataset.csv"]


class WebDataset(Exporter):
    """Tar shards per split: ``<key>.jpg`` (or ``.png``, ``.webp``), ``<key>.cls`` (class index),
    ``<key>.json``."""

    name = "webdataset"
    help = "tar shards per split with .jpg/.png/.webp, .cls, .json per sample (--shard-size)"
    example = "curate export data/manifest.csv out --format webdataset --shard-size 5000"

    def write(self, rows: pd.DataFrame, items: list[Item], folders: dict[str, str], outdir: Path,
              options: ExportOptions, report: ExportReport, progress: Progress | None = None,
              card: ExportCard | None = None) -> None:
        try:
            import webdataset as wds
        except ImportError:
            raise MissingToolError("--format webdataset needs the webdataset package: "
                                   "pip install 'gleanset[webdataset]'") from None
        state, classes = read_state(outdir), {f: i for i, f in enumerate(sorted(folders.values()))}
        meta_cols = metadata(rows)
        shards = _shards(items, options.shard_size)
        wanted = {rel: _digest(batch, options) for rel, batch in shards.items()}
        old, key = state.get("files", {}), {"format": self.name}
        self.check(rows, outdir, wanted, state)
        done = {rel: d for rel, d in wanted.items() if old.get(rel) == d and (outdir / rel).exists()}
        journal = self.start(rows, outdir, key, wanted, done, state)
        report.removed = journal.removed
        progress = progress or NoProgress()
        progress.total(len(items), "export webdataset")
        for rel, batch in shards.items():
            if rel in done:
                report.kept += len(batch)
                progress.advance(len(batch))
                continue
            target = outdir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".part")
            with wds.TarWriter(str(tmp), mtime=0) as sink:
                for item in batch:
                    try:
                        ext, data = _image_bytes(item.src, options.resize, item.sha256)
                    except (OSError, images.ImageError) as exc:
                        report.failed.append(f"{item.src}: {exc}")
                        continue
                    info = {"label": item.label, "split": item.split,
                            **{c: _plain(rows.at[item.index, c]) for c in meta_cols}}
                    sink.write({"__key__": Path(item.name).stem.replace(".", "_"), ext: data,
                                "cls": classes[item.folder], "json": info})
                    report.written += 1
                    progress.advance()
            tmp.replace(target)
            journal.landed(rel, wanted[rel])
        shard_of = {it.index: rel for rel, batch in shards.items() for it in batch}
        report.files = self.meta(rows, shard_of, folders, outdir, card)
        self.close(outdir, journal, wanted, report.files, state)


def _shards(items: list[Item], size: int) -> dict[str, list[Item]]:
    ordered = sorted(items, key=lambda it: (it.split, it.folder, it.sha256, it.name))
    out: dict[str, list[Item]] = {}
    by_split: dict[str, list[Item]] = {}
    for it in ordered:
        by_split.setdefault(it.split, []).append(it)
    for split, group in by_split.items():
        for n, start in enumerate(range(0, len(group), max(1, size))):
            out[f"{split}/{split}-{n:06d}.tar"] = group[start:start + size]
    return out


def _digest(batch: list[Item], options: ExportOptions) -> str:
    text = json.dumps([[it.sha256, it.label, it.folder, it.name] for it in batch] + [options.resize])
    return hashlib.sha256(text.encode()).hexdigest()


def _hf_features(rows: pd.DataFrame, extra: list[str], numeric: set[str]) -> str:
    """The ``datasets`` features of an hf export as YAML (JSON-quoted scalars): image, label as a
    ClassLabel of the sorted class names, and each metadata column's type."""
    def dtype(col: str) -> str:
        if col not in numeric:
            return "string"
        kind = rows[col].dtype.kind
        return "bool" if kind == "b" else "int64" if kind in "iu" else "float64"

    names = sorted(rows[schema.LABEL].astype(str).unique())
    lines = ["# datasets reads this: load_dataset('<this folder>') gives label as a ClassLabel",
             "configs:", "- config_name: default", "  features:", "  - name: image", "    dtype: image",
             "  - name: label", "    dtype:", "      class_label:", "        names:"]
    lines += [f"          {json.dumps(str(i))}: {json.dumps(name)}" for i, name in enumerate(names)]
    for col in extra:
        lines += [f"  - name: {json.dumps(col)}", f"    dtype: {dtype(col)}"]
    return "\n".join(lines) + "\n"


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _image_bytes(src: Path, resize: int | None, sha256: str = "") -> tuple[str, bytes]:
    """A sample's image, its bytes checked against ``sha256``: a JPEG, PNG or WebP as it is, the rest
    (and resized images) re-encoded by :func:`manifests.store.reencode`, the one resize path of every
    format (alpha kept)."""
    data = src.read_bytes()
    check_sha256(data, sha256)
    found = images.header(data)
    if not resize and found and found[0] in KEEP_FORMATS:
        return KEEP_FORMATS[found[0]], data
    encoded = reencode(data, resize)
    return encoded.extension, encoded.data


FORMATS: dict[str, type[Exporter]] = {cls.name: cls for cls in (ImageFolder, HuggingFace, Fastai,
                                                                 WebDataset, Csv)}


def exporter(name: str) -> Exporter:
    """The registered format of that name, or a UsageError naming the choices."""
    try:
        return FORMATS[name]()
    except KeyError:
        raise UsageError(f"unknown --format {name!r} (choose from {', '.join(FORMATS)})") from None
