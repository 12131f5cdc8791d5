"""Partitioned Parquet manifests: a folder ``manifest.parquet/`` of part files, for manifests too large
to rewrite whole on every flush.

Layout::

    manifest.parquet/
        _manifest.json              {"version": 1, "parts": {"3": "part-3-<digest>.parquet", ...}}
        part-3-<digest>.parquet     the rows whose bucket is 3
        ...

Rows are spread over :data:`BUCKETS` buckets by their identity (the first hex digits of ``sha256``;
rows without one, failed attempts, by a hash of ``source|origin``), so a row stays in its bucket across
writes. A part file's name carries the digest of its content: a write creates files only for the
buckets whose rows changed, then commits by atomically replacing ``_manifest.json`` (temp file, fsync,
rename), then deletes the part files no longer listed. A reader only ever reads the parts that
``_manifest.json`` lists, so a crash at any point leaves the old manifest or the new one, never a mix;
stray part files of a crashed write are removed by the next write.

A folder is used as a partitioned manifest when its name ends in ``.parquet`` (make one with ``mkdir
manifest.parquet`` or :func:`manifests.write` with ``partitioned=True``) or it holds ``_manifest.json``;
every command then reads and writes it as it would a single file, under the same lock and lineage log
beside it. Any other folder given as a manifest is refused (:func:`check_not_plain_folder`), so a
folder of images named by mistake does not silently become one.
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from pathlib import Path

import pandas as pd

from . import schema
from .atomic import temp_beside
from .errors import ManifestError

INDEX = "_manifest.json"
BUCKETS = 64
VERSION = 1
READ_TRIES = 20  # reads started again when a writer replaced parts under a reader


def is_partitioned(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a partitioned manifest folder: a folder named ``*.parquet``/``*.pq`` or one
    holding ``_manifest.json``."""
    path = Path(path)
    return path.is_dir() and (path.suffix.lower() in (".parquet", ".pq") or (path / INDEX).is_file())


def check_not_plain_folder(path: str | os.PathLike[str]) -> None:
    """Refuse a folder that is not a partitioned manifest where a manifest is expected."""
    path = Path(path)
    if path.is_dir() and not is_partitioned(path):
        raise ManifestError(
            f"{path} is a folder, not a manifest: name a file (e.g. {path / 'manifest.csv'}), or a "
            "folder ending in .parquet for a partitioned Parquet manifest (mkdir manifest.parquet)")


def _index(path: Path) -> dict[str, str]:
    index = path / INDEX
    if not index.exists():
        return {}
    try:
        data = json.loads(index.read_text(encoding="utf-8"))
        parts = data["parts"]
        if data.get("version") != VERSION or not isinstance(parts, dict):
            raise ValueError(f"unknown layout version {data.get('version')!r}")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ManifestError(f"cannot read partitioned manifest {path}: {INDEX} is damaged ({exc})") from exc
    return {str(k): str(v) for k, v in parts.items()}


def read_parts(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The rows of every part ``_manifest.json`` lists (unconformed; :func:`manifests.read` conforms).

    A writer may commit a new index and delete the old parts while this reads: a part that is gone
    (or unreadable) when the index has changed since it was read means the read starts again from
    the new index, so a reader sees the old state or the new one, never an error (up to
    ``READ_TRIES`` times; a part missing from an unchanged index is damage, and said so)."""
    path = Path(path)
    for _ in range(READ_TRIES):
        index = _index(path)
        try:
            frames = [pd.read_parquet(path / name, dtype_backend="numpy_nullable")
                      for _, name in sorted(index.items(), key=lambda kv: int(kv[0]))]
            break
        except (OSError, ValueError) as exc:
            if _index(path) == index:
                raise ManifestError(f"cannot read partitioned manifest {path}: a part it lists cannot "
                                    f"be read ({exc})") from exc
    else:
        raise ManifestError(f"cannot read partitioned manifest {path}: it changed under {READ_TRIES} "
                            "reads in a row")
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({name: [] for name in schema.REQUIRED})
    return pd.concat(frames, ignore_index=True)


def buckets(frame: pd.DataFrame, count: int = BUCKETS) -> pd.Series:
    """Each row's bucket: from its sha256, or a stable hash of ``source|origin`` when it has none."""
    sha = frame[schema.SHA256].astype("string") if schema.SHA256 in frame else pd.Series(pd.NA, frame.index)
    keys = sha.fillna("").tolist()
    fallback = (frame.get(schema.SOURCE, pd.Series("", frame.index)).astype("string").fillna("") + "|"
                + frame.get(schema.ORIGIN, pd.Series("", frame.index)).astype("string").fillna(""))
    out = [int(k[:8], 16) % count if len(k) >= 8 and _is_hex(k[:8]) else zlib.crc32(f.encode()) % count
           for k, f in zip(keys, fallback.tolist(), strict=True)]
    return pd.Series(out, index=frame.index, dtype="int64")


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


def _digest(part: pd.DataFrame) -> str:
    rows = pd.util.hash_pandas_object(part.astype("string"), index=False).to_numpy()
    head = ",".join(part.columns).encode()
    return hashlib.sha256(head + rows.tobytes()).hexdigest()[:16]


def write_parts(frame: pd.DataFrame, path: str | os.PathLike[str]) -> dict[str, int]:
    """Write a conformed frame as parts; only changed buckets get new files. Returns counts of parts
    ``written`` and ``kept``."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    old = _index(path)
    new: dict[str, str] = {}
    written = 0
    for bucket, part in frame.groupby(buckets(frame), sort=True):
        part = part.reset_index(drop=True)
        name = f"part-{bucket}-{_digest(part)}.parquet"
        if old.get(str(bucket)) != name or not (path / name).exists():
            _atomic(path, name, lambda fh, p=part: p.to_parquet(fh, engine="pyarrow", index=False))
            written += 1
        new[str(bucket)] = name
    body = json.dumps({"version": VERSION, "parts": new}, indent=1).encode()
    _atomic(path, INDEX, lambda fh: fh.write(body))
    listed = set(new.values())
    for stray in path.glob("part-*.parquet"):
        if stray.name not in listed:
            stray.unlink(missing_ok=True)
    remove_temporaries(path)
    return {"written": written, "kept": len(new) - written}


def remove_temporaries(path: Path) -> None:
    """Delete the temporary files a killed write left (``.part-N-*.parquet.*.tmp``,
    ``._manifest.json.*.tmp``); called by a writer, which holds the manifest's lock."""
    for pattern in (".part-*.parquet.*.tmp", f".{INDEX}.*.tmp"):
        for stray in path.glob(pattern):
            stray.unlink(missing_ok=True)


def _atomic(folder: Path, name: str, fill: object) -> None:
    fd, tmp = temp_beside(folder / name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fill(fh)  # type: ignore[operator]
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, folder / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
