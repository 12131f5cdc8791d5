"""Image features keyed by sha256: the file ``train embed`` writes and ``curate dedupe --method
embedding`` reads, so curate never imports train (as ``curate label-issues`` reads the out-of-fold
predictions ``train --folds`` writes).

A features file is a NumPy ``.npz`` with ``sha256`` (one key per row), ``features`` (``rows x dim``
float32, L2-normalised; a row of NaN for an image that could not be decoded) and ``meta`` (JSON: the
backbone ``arch``, the ``weights`` and their file's size and modification time, ``img_size``). Two
runs with the same :func:`meta` give the same features, so an image embedded once is looked up by its
sha256 from then on. By default it lives in the dataset folder's ``.cache/embed/`` under a name made
from its meta (:func:`default_path`), where both commands find it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .atomic import temp_beside
from .errors import InputError

if TYPE_CHECKING:
    import numpy as np

CACHE = Path(".cache") / "embed"


def meta(arch: str, weights: str, img_size: int | None) -> dict[str, Any]:
    """What the features depend on: the backbone, its weights (a file's size and time too), the input."""
    out: dict[str, Any] = {"arch": arch, "weights": weights, "img_size": img_size}
    path = Path(weights)
    if weights not in ("imagenet", "none") and path.is_file():
        stat = path.stat()
        out.update(weights=str(path.resolve()), weights_bytes=stat.st_size, weights_mtime_ns=stat.st_mtime_ns)
    return out


def default_path(root: str | os.PathLike[str], info: dict[str, Any]) -> Path:
    """Where the features of a dataset folder ``root`` for this :func:`meta` are kept by default."""
    digest = hashlib.sha256(json.dumps(info, sort_keys=True).encode()).hexdigest()[:12]
    return Path(root) / CACHE / f"{info['arch']}-{digest}.npz"


@dataclass
class Features:
    """The rows of a features file: keys, the matrix and its meta."""

    keys: np.ndarray
    matrix: np.ndarray
    meta: dict[str, Any]

    def lookup(self, keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Features of ``keys`` in order and a mask of those present (absent rows are NaN)."""
        import numpy as np

        where = {k: i for i, k in enumerate(self.keys.tolist())}
        found = np.array([k in where for k in keys], dtype=bool)
        out = np.full((len(keys), self.matrix.shape[1]), np.nan, dtype=np.float32)
        out[found] = self.matrix[[where[k] for k, f in zip(keys, found, strict=True) if f]]
        return out, found


def read(path: str | os.PathLike[str]) -> Features:
    """Read a features file (an :class:`InputError` when it is not one)."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            return Features(data["sha256"].astype(str), data["features"].astype(np.float32),
                            json.loads(str(data["meta"])))
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(f"{path} is not a features file ({exc})") from None


def write(path: str | os.PathLike[str], keys: list[str], matrix: np.ndarray, info: dict[str, Any]) -> Path:
    """Write a features file atomically (a temporary file renamed over the target)."""
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_beside(path, suffix=".tmp.npz")
    os.close(fd)
    try:
        np.savez(tmp, sha256=np.asarray(keys, dtype=str), features=np.asarray(matrix, dtype=np.float32),
                 meta=np.asarray(json.dumps(info, sort_keys=True)))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
