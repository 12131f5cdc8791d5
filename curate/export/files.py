"""The files of ``curate export``, below the formats: safe names, the export state, placing images,
stale and foreign files, labels, attribution and per-image metadata.

Images are hard-linked by default (copied when the output is on another file system), copied with
``copy`` or resized to a shorter side of ``resize`` pixels. ``.gleanset-export.json`` records what the
last export wrote (file -> sha256), so a re-export into the same folder only writes what changed and
removes only what it wrote itself: nothing else in the folder is ever deleted or overwritten.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pandas as pd

from manifests import InputError, images, schema
from manifests.store import KEEP_FORMATS, output_format, reencode

from .. import frames
from ..tables import natural_sorted
from ..text import markdown_text

log = logging.getLogger(__name__)

STATE = ".gleanset-export.json"
LABELS_FILE = "classes.csv"
ATTRIBUTION_FILE = "ATTRIBUTION.md"
_UNSAFE = re.compile(r"[^\w.\- ]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")
_SPLIT = re.compile(r"[A-Za-z0-9][\w.\-]{0,63}", re.ASCII)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")
_URL_SAFE = ":/?#@!$&'*+,;=%~-._[]"
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}


@dataclass(frozen=True)
class Item:
    """One image to export: its row, source file, split, label (and safe folder) and file name."""

    index: Any
    src: Path
    sha256: str
    split: str
    label: str
    folder: str
    name: str


def safe_name(label: str) -> str:
    """A folder name for a label on every common file system (no separators, no reserved names, no
    leading ``-``)."""
    name = _UNSAFE.sub("_", label).strip(" .") or "_"
    if name.split(".")[0].upper() in _RESERVED or name.startswith("-"):  # -x: an option, a formula
        name = "_" + name
    return name[:100]


def check_split(split: str, what: str = "split") -> None:
    """Refuse a split that cannot be one folder name as it is (it becomes ``OUT/<split>/...``)."""
    if not _SPLIT.fullmatch(split) or safe_name(split) != split:
        raise InputError(f"{what} {split[:80]!r} cannot be a folder name: use letters, digits, '_', '-' "
                         "or '.' (e.g. train, val, test)")


def safe_suffix(path: Path) -> str:
    """A file's extension, lower case, made safe for a file name (``.jpg``; ``""`` when it has none)."""
    suffix = _UNSAFE.sub("_", path.suffix.lower()[1:])[:16]
    return "." + suffix if suffix.strip("_") else ""


def safe_names(labels: list[str]) -> dict[str, str]:
    """Label -> folder name, unique (a clash gets ``_2``, ``_3``...) and stable for the same labels."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for label in natural_sorted(labels):
        base = name = safe_name(label)
        n = 2
        while name.lower() in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name.lower())
        out[label] = name
    return out


def safe_rel(rel: object) -> bool:
    """Whether ``rel`` names a file inside an export folder: a relative ``/``-separated path with no
    empty, ``.`` or ``..`` part and no backslash or control character (what a state file may name)."""
    if not isinstance(rel, str) or not rel or rel.startswith("/") or _CONTROL.search(rel):
        return False
    return all(part not in ("", ".", "..") for part in rel.split("/"))


def read_state(outdir: Path) -> dict[str, Any]:
    """The last export's state (``files``: path -> sha256, ``meta``, ``claimed``), ``{}`` when there is
    none or it is unreadable. Raises InputError when it names a path outside ``outdir``: such a file
    was not written by curate export, and nothing it names is touched."""
    path = outdir / STATE
    if not path.exists():
        return {}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, RecursionError, json.JSONDecodeError):
        return {}
    if not isinstance(state, dict):
        return {}
    files, meta, claimed = state.get("files", {}), state.get("meta", []), state.get("claimed", [])
    if not (isinstance(files, dict) and isinstance(meta, list) and isinstance(claimed, list)
            and all(isinstance(v, str) for v in files.values())):
        raise InputError(f"{path} is not a curate export state file: move it away to export here")
    for rel in [*files, *meta, *claimed]:
        if not safe_rel(rel):
            raise InputError(f"{path} names {str(rel)[:200]!r}, which is not a file inside {outdir}: "
                             "it was not written by curate export; move it away to export here")
    return {**state, "files": files, "meta": meta, "claimed": claimed}


def inside(outdir: Path, path: Path) -> bool:
    """Whether ``path``'s folder, symbolic links followed, is ``outdir`` or below it."""
    try:
        return path.parent.resolve().is_relative_to(outdir.resolve())
    except (OSError, RuntimeError):
        return False


def write_state(outdir: Path, state: dict[str, Any]) -> None:
    """Replace the state file in one step (a kill leaves the old one or the new one)."""
    tmp = outdir / (STATE + ".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(outdir / STATE)


def mine(state: dict[str, Any]) -> list[str]:
    """Every file the state says an export wrote or was about to write (``files``, ``meta``, ``claimed``)."""
    return list(dict.fromkeys([*state.get("files", {}), *state.get("meta", []), *state.get("claimed", [])]))


def remove_parts(outdir: Path, rels: list[str]) -> None:
    """Delete the ``.part`` files a killed export left beside the files it was writing."""
    for rel in rels:
        part = outdir / (rel + ".part")
        if safe_rel(rel) and inside(outdir, part) and part.is_file():
            part.unlink()
    (outdir / (STATE + ".tmp")).unlink(missing_ok=True)


class Journal:
    """The export state, written before the first file lands and again as files land (at most every
    ``every`` seconds, and at the end): a killed export's rerun knows every file it may have written
    (``claimed``) and which ones are complete (``files``), so it resumes instead of refusing."""

    def __init__(self, outdir: Path, key: dict[str, Any], done: dict[str, str], claimed: list[str],
                 meta: list[str], every: float = 1.0) -> None:
        self.outdir, self.key, self.files = outdir, key, dict(done)
        self.claimed, self.meta, self.every = sorted(set(claimed) - set(done)), list(meta), every
        self._saved = 0.0
        self.removed = 0  # stale files removed before it started

    def save(self) -> None:
        """Write the state now."""
        write_state(self.outdir, {"key": self.key, "files": self.files, "meta": self.meta,
                                  "claimed": self.claimed})
        self._saved = time.monotonic()

    def landed(self, rel: str, sha256: str) -> None:
        """Record one complete file (saved when ``every`` seconds have passed since the last save)."""
        self.files[rel] = sha256
        if time.monotonic() - self._saved >= self.every:
            self.save()

    def finish(self, files: dict[str, str], meta: list[str]) -> None:
        """The final state: exactly the files and metadata files this export wrote."""
        write_state(self.outdir, {"key": self.key, "files": files, "meta": meta})


def resized_name(name: str, src: Path) -> str:
    """The file name of a resized copy: formats other than JPEG/PNG/WebP are written as PNG."""
    found = images.header(src)
    return str(Path(name).with_suffix("." + KEEP_FORMATS[output_format(found[0] if found else None)]))


def dataset_file(root: Path, path: str, origin: object = None) -> Path | None:
    """The file a row's ``path`` names, symbolic links followed, when it lies in the dataset folder
    ``root`` (the image store) or is the very file ``harvest folder`` imported in place (its absolute
    ``origin``, an imported root); ``None`` for anything else (``../x``, ``/home/u/.ssh/id_rsa``)."""
    try:
        src = (root / path).resolve()
        if src.is_relative_to(root.resolve()):
            return src
        if isinstance(origin, str) and Path(origin).is_absolute() and Path(origin).resolve() == src:
            return src
    except (OSError, RuntimeError, ValueError):
        pass
    return None


def check_sha256(data: bytes | Path, sha256: str) -> None:
    """Raise ImageError unless ``data`` (bytes or a file's) hashes to ``sha256`` (blank: not checked)."""
    if not sha256:
        return
    if isinstance(data, Path):
        digest = hashlib.sha256()
        with data.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
        found = digest.hexdigest()
    else:
        found = hashlib.sha256(data).hexdigest()
    if found != sha256:
        raise images.ImageError(schema.CORRUPT, f"sha256 {found[:12]}... is not the manifest's "
                                f"{sha256[:12]}...: the file changed since it was recorded (not exported)")


def place(src: Path, dst: Path, copy: bool = False, resize: int | None = None, sha256: str = "") -> str:
    """Put one image at ``dst``: ``resized`` (:func:`manifests.store.reencode`), ``linked`` or
    ``copied``, its bytes checked against ``sha256`` first. Raises OSError or
    :class:`~manifests.images.ImageError` when it cannot (nothing is left at ``dst`` then)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".part")
    tmp.unlink(missing_ok=True)
    if resize:
        data = src.read_bytes()
        check_sha256(data, sha256)
        tmp.write_bytes(reencode(data, resize).data)
        tmp.replace(dst)
        return "resized"
    how = "linked"
    try:
        if copy:
            raise OSError(errno.ENOTSUP, "--copy")
        os.link(src, tmp)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES):
            raise
        log.debug("cannot hard-link %s (%s): copying", src, exc)
        shutil.copy2(src, tmp)
        how = "copied"
    try:
        check_sha256(tmp, sha256)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(dst)
    return how


def remove_stale(outdir: Path, old: dict[str, str], new: dict[str, str]) -> int:
    """Delete files the last export wrote that this one does not want (only those); empty folders too."""
    removed = 0
    for rel in sorted(set(old) - set(new)):
        path = outdir / rel
        if not safe_rel(rel) or not inside(outdir, path):
            log.warning("not removing %s: it is outside the export folder %s", rel, outdir)
            continue
        if path.is_file() and not path.is_symlink():
            path.unlink()
            removed += 1
        parent = path.parent
        while outdir in parent.parents and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
    return removed


def check_foreign(outdir: Path, wanted: dict[str, str], old: dict[str, str]) -> None:
    """Refuse to overwrite a file that the last export did not write."""
    for rel in wanted:
        if rel not in old and (outdir / rel).exists():
            raise InputError(f"{outdir / rel} exists and was not written by curate export: "
                             "export into an empty folder (nothing there is overwritten)")


def metadata(rows: pd.DataFrame) -> list[str]:
    """Columns carried as per-image metadata: identity, source, groups and attribution present."""
    wanted = [schema.SHA256, schema.SOURCE, schema.ORIGIN, schema.WIDTH, schema.HEIGHT,
              *frames.group_columns(rows), *frames.ATTRIBUTION]
    return [c for c in dict.fromkeys(wanted) if c in rows.columns and rows[c].notna().any()]


def link_target(url: str) -> str:
    """``url`` as a Markdown link target when it is an http(s) URL with a host (characters that would
    end the target or the cell percent-encoded); ``""`` for anything else (``javascript:``, ``data:``)."""
    url = url.strip()
    if _CONTROLS.search(url):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    return quote(url, safe=_URL_SAFE)


def write_attribution(outdir: Path, rows: pd.DataFrame, rel_of: dict[Any, str]) -> str:
    """ATTRIBUTION.md: one line per exported search row (file, title, creator, licence, page, and the
    opt-out signal ``--ignore-optout`` took it over, when one was met)."""
    search = rows[frames.is_search(rows)]
    lines = ["# Attribution", "", "Images from image searches, with their creators and licences "
             "(written by `curate export`).", "",
             "| file | title | creator | licence | page | opt-out |", "|---|---|---|---|---|---|"]

    def cell(row: pd.Series, col: str, link: str | None = None) -> str:
        text = str(row[col]) if col in row.index and pd.notna(row[col]) else ""
        url = str(row[link]) if link and link in row.index and pd.notna(row[link]) else ""
        target = link_target(url)
        if target:
            return f"[{markdown_text(text or url)}]({target})"
        return markdown_text(text or url)

    for index, row in search.iterrows():
        lines.append(f"| {markdown_text(rel_of.get(index, ''))} | {cell(row, schema.TITLE)} | "
                     f"{cell(row, schema.CREATOR, schema.CREATOR_URL)} | "
                     f"{cell(row, schema.LICENSE, schema.LICENSE_URL)} | {cell(row, schema.PAGE_URL)} | "
                     f"{cell(row, schema.OPTOUT)} |")
    (outdir / ATTRIBUTION_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ATTRIBUTION_FILE


def spreadsheet_safe(value: Any) -> Any:
    """A text cell that starts like a formula (``=``, ``+``, ``-``, ``@``, tab or CR: the OWASP CSV
    injection rule) with a ``'`` put in front, so a spreadsheet shows it as text; plain numbers
    (``-1``, ``+3.5``) and everything else as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write an export CSV that is safe to open in a spreadsheet: formula starts neutralised
    (:func:`spreadsheet_safe`) in every text cell, and CRLF rows, so the csv writer quotes every field
    that holds a CR or LF (a bare CR cannot forge a row for pandas or a spreadsheet)."""
    safe = frame.copy()
    for col in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[col]) and not pd.api.types.is_bool_dtype(safe[col]):
            safe[col] = safe[col].map(spreadsheet_safe, na_action="ignore")
    safe.to_csv(path, index=False, encoding="utf-8", lineterminator="\r\n")


def write_labels(outdir: Path, folders: dict[str, str]) -> str:
    """classes.csv: label, folder and class index (the sorted folder order torchvision uses)."""
    order = {f: i for i, f in enumerate(sorted(folders.values()))}
    frame = pd.DataFrame({"label": list(folders), "folder": list(folders.values()),
                          "index": [order[f] for f in folders.values()]}).sort_values("index")
    write_csv(frame, outdir / LABELS_FILE)
    return LABELS_FILE
