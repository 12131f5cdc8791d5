"""Reading and writing manifests: CSV (default) or Parquet (by extension), with the same dtypes.

``read`` and ``write`` are the only functions that touch manifest files. Both enforce the schema's
dtypes, so a CSV and a Parquet copy of one manifest read back as equal DataFrames. ``write`` is
atomic: it writes a temporary file beside the target, fsyncs it and renames it over the target, so a
crash at any point leaves either the old manifest or the new one, never half of one. A folder is a
partitioned Parquet manifest (:mod:`manifests.partitioned`), read and written the same way.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from . import groups, schema, validate
from .atomic import temp_beside
from .errors import ManifestError
from .partitioned import check_not_plain_folder, is_partitioned, read_parts, write_parts

PARQUET_SUFFIXES = (".parquet", ".pq")
PARQUET_MAGIC = b"PAR1"  # the first (and last) four bytes of every Parquet file


def is_parquet(path: str | os.PathLike[str]) -> bool:
    """True when the path names a Parquet manifest (by extension)."""
    return Path(path).suffix.lower() in PARQUET_SUFFIXES


def empty() -> pd.DataFrame:
    """An empty manifest with the core and stage columns."""
    return conform(pd.DataFrame())  # conform adds the required columns


def _coerce(series: pd.Series, dtype: str) -> pd.Series:
    """Convert one column to its declared dtype; strings stay exact, '' becomes missing."""
    if series.dtype == _DECLARED.get(dtype):  # already conformed: only '' can still be wrong
        if dtype != schema.STRING:
            return series
        empty = series == ""
        return series.mask(empty) if empty.any() else series
    if dtype == schema.STRING:
        out = series.astype("string")
        return out.mask(out == "")
    if dtype == schema.BOOL:
        if series.dtype == "boolean":
            return series
        text = series.astype("string").str.strip().str.lower()
        mapping = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
        return text.map(mapping, na_action="ignore").astype("boolean")
    if dtype == schema.INT and pd.api.types.is_integer_dtype(series.dtype):
        return series.astype("Int64")  # numpy integers (a frame built from Python rows): exact and fast
    if dtype == schema.INT:
        # Value by value, whatever the column held (text, float, object): exact beyond 2**53 (never
        # through float), and one rule for every source (pandas' own cast turns a Float64 inf into
        # -2**63 and refuses the padded text a CSV reads).
        return pd.array([None if _missing(v) else _integer(v) for v in series], dtype="Int64")
    if series.dtype in ("string", object):
        series = series.mask(series.astype("string") == "")
    return series.astype(dtype)


_DECLARED = {name: pd.Series([], dtype=name).dtype
             for name in (schema.STRING, schema.INT, schema.FLOAT, schema.BOOL)}


def _integer(value: Any) -> int:
    """``int(value)``, refusing a float with a fraction, which ``int`` would cut off silently, an
    infinite one, and text with ``_`` (``int`` reads ``1_000``; a CSV's integer column does not)."""
    if (isinstance(value, float) and not value.is_integer()) or (isinstance(value, str) and "_" in value):
        raise ValueError(f"{value!r} is not an integer")
    return int(value)


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or value == "" or (isinstance(value, float) and value != value)


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """Give a frame every required column, the declared dtypes and the canonical column order."""
    frame = frame.copy()
    for name in schema.REQUIRED:
        if name not in frame.columns:
            frame[name] = pd.NA
    for name in frame.columns:
        try:
            frame[name] = _coerce(frame[name], schema.dtype_of(name))
        except (TypeError, ValueError, OverflowError) as exc:  # Overflow: an integer beyond 64 bits
            raise validate.dtype_error(name, frame[name], schema.dtype_of(name), exc) from exc
    return frame[schema.ordered(list(frame.columns))].reset_index(drop=True)


def from_records(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Build a conformed manifest frame from row dicts (keys are column names)."""
    rows = list(records)
    if not rows:
        return empty()
    return conform(pd.DataFrame(rows, dtype=object))


def read(path: str | os.PathLike[str], require: Iterable[str] = ()) -> pd.DataFrame:
    """Read a manifest; a missing file is an empty manifest.

    A file that is not a gleanset manifest, a value that does not fit its column, or a usable row
    whose ``sha256`` is not 64 hex digits raises ``ManifestError`` naming the file, the column and
    the first bad row. ``require`` names the columns the caller needs: each must be in the file and
    filled on every ``ok`` row.
    """
    path = Path(path)
    require = tuple(require)
    check_not_plain_folder(path)
    if not path.exists() or (path.is_file() and path.stat().st_size == 0):
        if require:
            raise ManifestError(f"{path} does not exist or is empty")
        return groups.attach(empty(), groups.read_meta(path))
    try:
        if is_partitioned(path):
            frame = read_parts(path)
            header = list(frame.columns)
        elif is_parquet(path):
            frame = pd.read_parquet(path, dtype_backend="numpy_nullable")
            header = list(frame.columns)
        else:
            header = _csv_header(path)
            dtypes = {n: schema.dtype_of(n) for n in header}
            dtypes = {n: ("string" if d in (schema.STRING, schema.BOOL) else d) for n, d in dtypes.items()}
            frame = _read_csv(path, dtypes)
        validate.check_is_manifest(header, path)
        frame = conform(frame)
    except ManifestError as exc:
        text = str(exc)
        raise ManifestError(text if text.startswith(str(path)) else f"{path}: {text}") from exc
    except (OSError, TypeError, ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(f"cannot read manifest {path}: {' '.join(str(exc).split())}") from exc
    validate.check_identifiers(frame, path)
    validate.check_required(frame, require, path, header)
    return groups.attach(frame, groups.read_meta(path))


def check_target(path: str | os.PathLike[str]) -> None:
    """Refuse, before any work, to append to an existing file that is not a gleanset manifest."""
    path = Path(path)
    check_not_plain_folder(path)
    try:
        if not path.is_file() or path.stat().st_size == 0:
            return
        if is_parquet(path):
            import pyarrow.parquet as pq

            header = pq.read_schema(path).names
        else:
            header = _csv_header(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(f"cannot read manifest {path}: {' '.join(str(exc).split())}") from exc
    validate.check_is_manifest(header, path)


def _csv_header(path: Path) -> list[str]:
    """The header of a CSV manifest; a Parquet file with a CSV name is named as such."""
    with path.open("rb") as raw:
        if raw.read(len(PARQUET_MAGIC)) == PARQUET_MAGIC:
            raise ManifestError(f"{path} is a Parquet file, not CSV: rename it to "
                                f"{path.with_suffix('.parquet').name} (gleanset reads the format from "
                                "the extension)")
    with path.open("r", encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh), [])
    validate.check_is_manifest(header, path)
    return header


def _read_csv(path: Path, dtypes: dict[str, str]) -> pd.DataFrame:
    options = {"keep_default_na": False, "na_values": [""], "encoding": "utf-8", "engine": "c"}
    try:
        return pd.read_csv(path, dtype=dtypes, **options)
    except (TypeError, ValueError, OverflowError):
        # Read as text so that conform() can name the column that does not fit its dtype.
        conform(pd.read_csv(path, dtype="string", **options))
        raise


def write(frame: pd.DataFrame, path: str | os.PathLike[str], *, conformed: bool = False,
          partitioned: bool = False) -> None:
    """Write a manifest atomically: temp file in the same folder, fsync, rename over the target.

    ``conformed=True`` skips :func:`conform` for a frame that already went through it. A folder (or
    ``partitioned=True``) is a partitioned Parquet manifest (:mod:`manifests.partitioned`): only the
    changed parts are written, and the commit is the atomic replacement of its part list. A Parquet
    file carries its sidecar metadata (:mod:`manifests.groups`) in its key-value metadata.
    """
    path = Path(path)
    if not partitioned:
        check_not_plain_folder(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not conformed:
        frame = conform(frame)
    if partitioned or is_partitioned(path):
        write_parts(frame, path)
        _fsync_dir(path)
        return
    fd, tmp = temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            if is_parquet(path):
                _write_parquet(frame, fh, groups.read_meta(path))
            else:
                # CRLF rows: the csv writer then quotes every field holding \r or \n (RFC 4180).
                frame.to_csv(fh, index=False, encoding="utf-8", lineterminator="\r\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _write_parquet(frame: pd.DataFrame, fh: Any, meta: dict[str, Any]) -> None:
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    if meta:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               groups.PARQUET_KEY: json.dumps(meta).encode()})
    pq.write_table(table, fh)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def group_columns(source: str | os.PathLike[str] | pd.DataFrame) -> tuple[str, ...]:
    """The group columns of a manifest (a path, or a frame :func:`read` returned) that hold values:
    :func:`manifests.groups.group_columns` of the frame."""
    return groups.group_columns(source if isinstance(source, pd.DataFrame) else read(source))
