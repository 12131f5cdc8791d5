"""Checks that make a manifest trustworthy before anyone acts on it.

Everything here raises :class:`~manifests.errors.ManifestError` (exit code 4) with one line that names
the file, the column, the first bad row and what it holds, never a pandas traceback:

- ``first_bad_value``: the first value of a column that does not fit its declared dtype
  (``3.5`` in an integer column, text in ``width``);
- ``check_is_manifest``: a file that exists but has none of ``sha256``/``path``/``status`` is some
  other CSV, which gleanset refuses to read or rewrite;
- ``check_identifiers``: a ``sha256`` is an identity *and* a file name (the image store, train's
  cache), so on usable rows it must be 64 hex digits: ``../../etc/x`` or ``/abs/path`` never gets
  near a path join;
- ``check_required``: the columns a command needs (``curate dedupe`` needs ``sha256``; ``train``
  needs ``label``) are present, and hold a value on every usable row.

Row numbers are 1-based data rows, the header not counted (row 1 is the CSV's second line).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

from . import schema
from .errors import ManifestError

SHA256_RE = re.compile(r"[0-9a-fA-F]{64}")
_INT_RE = re.compile(r"\s*[+-]?\d+\s*")
_INT64 = range(-2**63, 2**63)  # what an Int64 column holds
_BOOLS = frozenset({"true", "1", "yes", "false", "0", "no"})
IDENTITY = (schema.SHA256, schema.PATH, schema.STATUS)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "...'"


def _fits(value: Any, dtype: str) -> bool:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return True
    if isinstance(value, str) and value.strip() == "":
        return True
    if dtype == schema.INT:
        if isinstance(value, str):
            return bool(_INT_RE.fullmatch(value)) and int(value) in _INT64
        if isinstance(value, float):
            return value.is_integer() and int(value) in _INT64
        return isinstance(value, int) and value in _INT64
    if dtype == schema.FLOAT:
        try:
            float(value)
        except (TypeError, ValueError):
            return False
        return True
    if dtype == schema.BOOL:
        return isinstance(value, bool) or str(value).strip().lower() in _BOOLS
    return True


def first_bad_value(series: pd.Series, dtype: str) -> tuple[int, Any] | None:
    """The first (row number, value) of ``series`` that does not fit ``dtype``, or ``None``."""
    for position, value in enumerate(series.astype(object).tolist(), start=1):
        if not _fits(value, dtype):
            return position, value
    return None


def dtype_error(name: str, series: pd.Series, dtype: str, exc: Exception) -> ManifestError:
    """The one-line error for a column that does not convert to its dtype."""
    bad = first_bad_value(series, dtype)
    kind = {schema.INT: "an integer", schema.FLOAT: "a number", schema.BOOL: "true or false"}
    expected = kind.get(dtype, dtype)
    if bad is None:
        return ManifestError(f"column {name!r} does not hold {expected} values: {exc}")
    row, value = bad
    return ManifestError(f"column {name!r}, row {row}: {_shown(value)} is not {expected}")


def check_is_manifest(columns: Iterable[str], path: object) -> None:
    """Refuse a table that has none of the columns every gleanset manifest has."""
    present = set(columns)
    if not present & set(IDENTITY):
        shown = ", ".join(sorted(present)[:5]) or "no columns"
        raise ManifestError(f"{path} is not a gleanset manifest (it has {shown}; no sha256, path or "
                            "status column): refusing to read or rewrite it")


def _usable(frame: pd.DataFrame) -> pd.Series:
    return frame[schema.STATUS].fillna("") == schema.OK


def check_identifiers(frame: pd.DataFrame, path: object) -> None:
    """Every non-blank ``sha256`` of a usable row is 64 hex digits."""
    sha = frame[schema.SHA256]
    bad = _usable(frame) & sha.notna() & ~sha.fillna("").str.fullmatch(SHA256_RE.pattern)
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise ManifestError(f"{path}: column 'sha256', row {row + 1}: {_shown(sha.iloc[row])} is not "
                            "64 hex digits")


def check_required(frame: pd.DataFrame, columns: Iterable[str], path: object,
                   present: Iterable[str]) -> None:
    """The ``columns`` a command needs exist in the file and are filled on every usable row."""
    present = set(present)
    usable = _usable(frame)
    for name in columns:
        if name not in present:
            raise ManifestError(f"{path} has no {name!r} column, which this command needs")
        blank = usable & frame[name].isna()
        if blank.any():
            row = int(blank.to_numpy().nonzero()[0][0])
            raise ManifestError(f"{path}: column {name!r}, row {row + 1} is blank on a row with "
                                "status ok")
