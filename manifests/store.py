"""The image store: where verified image bytes live under a dataset folder.

Verification itself is :mod:`manifests.images` (the one image opener, re-exported here:
``inspect_bytes``, ``inspect_file``, ``Limits``, ``ImageInfo``). ``store_bytes`` writes verified bytes
to ``images/<sha[:2]>/<sha>.<ext>`` under a dataset folder, the extension taken from the real format;
storing the same bytes twice writes nothing new. ``store_encoded`` stores bytes the caller encoded
itself from pixels without decoding them again.
"""

from __future__ import annotations

import os
from pathlib import Path

from .images import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    EXTENSIONS,
    MAX_FRAMES_VERIFIED,
    ImageInfo,
    Limits,
    encoded_info,
    inspect_bytes,
    inspect_file,
    read_limited,
    write_once,
)

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_PIXELS", "EXTENSIONS", "MAX_FRAMES_VERIFIED", "STORE_DIR",
           "ImageInfo", "Limits", "inspect_bytes", "inspect_file", "read_limited", "store_bytes",
           "store_encoded", "store_file", "stored_path"]

STORE_DIR = "images"


def stored_path(info: ImageInfo) -> Path:
    """Where verified bytes live relative to the dataset folder."""
    assert info.sha256
    return Path(STORE_DIR) / info.sha256[:2] / f"{info.sha256}.{info.extension}"


def store_bytes(data: bytes, root: str | os.PathLike[str],
                limits: Limits = Limits()) -> tuple[ImageInfo, Path | None]:
    """Verify ``data`` and write it into the store under ``root``.

    Returns the information and the stored path relative to ``root`` (``None`` when the bytes were
    refused). Existing files are not rewritten; new ones are written atomically.
    """
    return _keep(inspect_bytes(data, limits), data, root)


def store_encoded(data: bytes, fmt: str, size: tuple[int, int], root: str | os.PathLike[str],
                  limits: Limits = Limits()) -> tuple[ImageInfo, Path | None]:
    """``store_bytes`` for bytes this process encoded itself from pixels (a video frame): measured by
    :func:`manifests.images.encoded_info` instead of being decoded again."""
    return _keep(encoded_info(data, fmt, size, limits), data, root)


def _keep(info: ImageInfo, data: bytes, root: str | os.PathLike[str]) -> tuple[ImageInfo, Path | None]:
    """Write measured bytes into the store unless they were refused."""
    if not info.ok:
        return info, None
    rel = stored_path(info)
    write_once(Path(root) / rel, data)
    return info, rel


def store_file(path: str | os.PathLike[str], root: str | os.PathLike[str],
               limits: Limits = Limits()) -> tuple[ImageInfo, Path | None]:
    """``store_bytes`` on a file's contents."""
    data = read_limited(path, limits)
    if isinstance(data, ImageInfo):
        return data, None
    return store_bytes(data, root, limits)
