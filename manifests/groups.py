"""Group columns: which columns of a manifest hold groups of related images, as the manifest's own metadata.

Images of one video, one scene, one Reddit post, one street or one ``site`` are related: splitting
them randomly across train and val leaks, and a model's accuracy should be reported per group. Which
columns are such groups is not a fixed list: collectors declare the ones they write (frames:
``video``, ``scene``; reddit: ``post_id``, ``author``; folder: the ``--group-field`` pattern fields)
and ``curate split --group-by X`` records ``X``.

The knowledge lives beside the manifest, not in its lineage log (an audit trail a user may prune): a
sidecar ``<manifest>.meta.json`` written atomically under the manifest's lock, and, for a Parquet
manifest, the same JSON in the file's key-value metadata (``gleanset``)::

    {"group_columns": {"video": "harvest frames", "scene": "harvest frames"}}

``manifests.read`` attaches the declared columns to the frame (``frame.attrs``), so a function given
only a frame knows them too. :func:`group_columns` is the one question everybody asks (split,
balance, train, report). A manifest written before group columns were recorded answers with the
columns collectors wrote then (:data:`LEGACY`) that hold values.

Example::

    import manifests
    manifests.declare_groups("data/manifest.csv", ["creator"], by="harvest search")
    manifests.group_columns("data/manifest.csv")   # ('creator',)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from . import schema
from .atomic import temp_beside
from .errors import InputError, ManifestError

META_SUFFIX = ".meta.json"
GROUPS_KEY = "group_columns"
PARQUET_KEY = b"gleanset"
ATTR = "gleanset_group_columns"
# The group columns of manifests written before they were recorded: what collectors write (folder's
# street is a pattern field, not a schema column).
LEGACY = (schema.SCENE, schema.POST_ID, "street", schema.VIDEO, schema.AUTHOR, schema.CREATOR)


def meta_path(manifest: str | os.PathLike[str]) -> Path:
    """The sidecar holding a manifest's metadata: ``<manifest>.meta.json``."""
    manifest = Path(manifest)
    return manifest.with_name(manifest.name + META_SUFFIX)


def read_meta(manifest: str | os.PathLike[str]) -> dict[str, Any]:
    """A manifest's metadata: the sidecar, else a Parquet file's key-value metadata, else ``{}``."""
    side = meta_path(manifest)
    try:
        text = side.read_text(encoding="utf-8")
    except FileNotFoundError:
        return _parquet_meta(Path(manifest))
    except OSError as exc:
        raise ManifestError(f"cannot read {side}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{side} is not UTF-8 text ({exc.reason} at byte {exc.start}); fix or "
                            "delete it") from None
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{side} is not valid JSON ({exc}); fix or delete it") from exc
    except RecursionError:
        raise ManifestError(f"{side} is nested too deeply to be read; fix or delete it") from None
    if not isinstance(meta, dict) or not isinstance(meta.get(GROUPS_KEY, {}), dict):
        raise ManifestError(f"{side} does not hold a {{{GROUPS_KEY!r}: {{column: by}}}} object")
    return meta


def _parquet_meta(path: Path) -> dict[str, Any]:
    if path.suffix.lower() not in (".parquet", ".pq") or not path.is_file() or not path.stat().st_size:
        return {}  # an empty file is an empty manifest (manifests.io.read), with no metadata
    import pyarrow.parquet as pq

    try:
        raw = (pq.read_schema(path).metadata or {}).get(PARQUET_KEY)
        return json.loads(raw) if raw else {}
    except (OSError, ValueError, RecursionError) as exc:
        raise ManifestError(f"cannot read the metadata of {path}: {exc}") from exc


def write_meta(manifest: str | os.PathLike[str], meta: Mapping[str, Any]) -> None:
    """Write the sidecar atomically (temp file, rename). The caller holds the manifest's lock."""
    side = meta_path(manifest)
    side.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_beside(side)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(meta, fh, indent=2, sort_keys=False)
            fh.write("\n")
        os.replace(tmp, side)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def declared(meta: Mapping[str, Any]) -> dict[str, str]:
    """``{column: who declared it}`` from a manifest's metadata."""
    return dict(meta.get(GROUPS_KEY) or {})


def with_groups(meta: Mapping[str, Any], new: Mapping[str, str],
                frame: pd.DataFrame | None = None) -> dict[str, Any]:
    """``meta`` with the ``{column: who declares it}`` in ``new`` added (earlier declarations are kept).

    The first declaration for a manifest written before group columns were recorded also keeps the
    :data:`LEGACY` columns ``frame`` holds values in, so recording ``site`` does not forget ``scene``.
    """
    groups = declared(meta)
    if GROUPS_KEY not in meta and frame is not None:
        groups.update({c: "legacy" for c in _legacy(frame)})
    for column, by in new.items():
        if column and column not in groups:
            groups[column] = by
    return {**meta, GROUPS_KEY: groups}


def _legacy(frame: pd.DataFrame) -> list[str]:
    return [c for c in LEGACY if c in frame.columns and frame[c].notna().any()]


def attach(frame: pd.DataFrame, meta: Mapping[str, Any]) -> pd.DataFrame:
    """Remember the declared group columns on the frame (``frame.attrs``); returns the frame."""
    if GROUPS_KEY in meta:
        frame.attrs[ATTR] = list(declared(meta))
    return frame


def group_columns(frame: pd.DataFrame) -> tuple[str, ...]:
    """The group columns of a frame ``manifests.read`` returned that hold values (for a path,
    :func:`manifests.group_columns` reads it first).

    Declared columns come in the order they were declared; a manifest with no recorded group columns
    answers with the :data:`LEGACY` ones it holds values in.
    """
    names = frame.attrs.get(ATTR)
    if names is None:
        return tuple(_legacy(frame))
    return tuple(c for c in names if c in frame.columns and frame[c].notna().any())


def unfilled(frame: pd.DataFrame) -> tuple[str, ...]:
    """Declared group columns that no row of the frame holds a value in (absent, or empty everywhere).

    Such a declaration is stale (a ``--pattern`` whose fields never reached the rows): splitting as if
    the column held groups would silently split rows one by one. An empty frame has none.
    """
    names = frame.attrs.get(ATTR) or []
    if frame.empty:
        return ()
    return tuple(c for c in names if c not in frame.columns or not frame[c].notna().any())


def require_filled(frame: pd.DataFrame, what: str) -> None:
    """Refuse (``InputError``, one line) a frame whose declared group columns hold no value.

    ``what`` is the command refusing (``curate split``), named in the message.
    """
    stale = unfilled(frame)
    if stale:
        col = stale[0]
        raise InputError(
            f"{what}: the manifest declares {col!r} as a group column ({META_SUFFIX} sidecar) but no row "
            f"holds a {col!r} value, so its groups cannot be kept apart; re-import with the --pattern "
            f"that fills it (harvest folder updates the rows it already has), or remove {col!r} from "
            f"the sidecar's {GROUPS_KEY!r}")
