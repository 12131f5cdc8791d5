"""The image store: where verified image bytes live under a dataset folder.

Verification itself is :mod:`manifests.images` (the one image opener, re-exported here:
``inspect_bytes``, ``inspect_file``, ``Limits``, ``ImageInfo``). ``store_bytes`` writes verified bytes
to ``images/<sha[:2]>/<sha>.<ext>`` under a dataset folder, the extension taken from the real format;
storing the same bytes twice writes nothing new. ``store_encoded`` stores bytes the caller encoded
itself from pixels without decoding them again.

It is also the one image path out: :func:`encode` turns pixels into bytes (``curate augment``'s copies,
then stored verified with :func:`store_bytes`), and :func:`reencode` is the one resize/re-encode
(``curate export --resize`` in every format): EXIF orientation applied, the shorter side brought down
to the size asked for, the file's own format kept when it is JPEG, PNG or WebP (PNG otherwise), and
alpha kept wherever the format has it.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from .images import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    EXTENSIONS,
    MAX_FRAMES_VERIFIED,
    ImageInfo,
    Limits,
    decode,
    encoded_info,
    inspect_bytes,
    inspect_file,
    read_limited,
    write_once,
)

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_PIXELS", "EXTENSIONS", "KEEP_FORMATS", "MAX_FRAMES_VERIFIED",
           "STORE_DIR", "Encoded", "ImageInfo", "Limits", "encode", "inspect_bytes", "inspect_file",
           "output_format", "read_limited", "reencode", "store_bytes", "store_encoded", "store_file",
           "stored_path"]

STORE_DIR = "images"
KEEP_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}  # re-encoded in their own format
JPEG_QUALITY = 95
_PNG_MODES = ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16")


def stored_path(info: ImageInfo) -> Path:
    """Where verified bytes live relative to the dataset folder."""
    assert info.sha256
    return Path(STORE_DIR) / info.sha256[:2] / f"{info.sha256}.{info.extension}"


def store_bytes(data: bytes, root: str | os.PathLike[str], limits: Limits = Limits(),
                write: bool = True) -> tuple[ImageInfo, Path | None]:
    """Verify ``data`` and write it into the store under ``root`` (``write=False``: only say where).

    Returns the information and the stored path relative to ``root`` (``None`` when the bytes were
    refused). Existing files are not rewritten; new ones are written atomically.
    """
    return _keep(inspect_bytes(data, limits), data, root, write)


def store_encoded(data: bytes, fmt: str, size: tuple[int, int], root: str | os.PathLike[str],
                  limits: Limits = Limits()) -> tuple[ImageInfo, Path | None]:
    """``store_bytes`` for bytes this process encoded itself from pixels (a video frame): measured by
    :func:`manifests.images.encoded_info` instead of being decoded again."""
    return _keep(encoded_info(data, fmt, size, limits), data, root)


def _keep(info: ImageInfo, data: bytes, root: str | os.PathLike[str],
          write: bool = True) -> tuple[ImageInfo, Path | None]:
    """Write measured bytes into the store unless they were refused."""
    if not info.ok:
        return info, None
    rel = stored_path(info)
    if write:
        write_once(Path(root) / rel, data)
    return info, rel


def store_file(path: str | os.PathLike[str], root: str | os.PathLike[str],
               limits: Limits = Limits()) -> tuple[ImageInfo, Path | None]:
    """``store_bytes`` on a file's contents."""
    data = read_limited(path, limits)
    if isinstance(data, ImageInfo):
        return data, None
    return store_bytes(data, root, limits)


@dataclass(frozen=True)
class Encoded:
    """Image bytes this process encoded, their file extension (``jpg``, ``png``, ``webp``) and size."""

    data: bytes
    extension: str
    size: tuple[int, int]


def output_format(fmt: str | None) -> str:
    """The format an image of format ``fmt`` is re-encoded in: its own for JPEG, PNG and WebP, else PNG."""
    return fmt if fmt in KEEP_FORMATS else "PNG"


def encode(image: Image.Image, fmt: str = "PNG") -> Encoded:
    """``image`` as ``fmt`` bytes: JPEG (quality 95) holds no alpha, so RGB or L; PNG and WebP keep it."""
    if fmt == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    elif fmt != "JPEG" and image.mode not in _PNG_MODES:
        image = image.convert("RGBA" if "A" in image.mode else "RGB")
    buf = io.BytesIO()
    image.save(buf, fmt, **({"quality": JPEG_QUALITY} if fmt == "JPEG" else {}))
    return Encoded(buf.getvalue(), KEEP_FORMATS[fmt], image.size)


def reencode(source: str | os.PathLike[str] | bytes, resize: int | None = None,
             limits: Limits = Limits()) -> Encoded:
    """The one resize/re-encode: the image turned by its EXIF orientation, its shorter side brought down
    to ``resize`` pixels (Lanczos; never enlarged), in its own format when that is JPEG, PNG or WebP
    (PNG otherwise), alpha kept where the format has it. Raises :class:`~manifests.images.ImageError`."""
    decoded = decode(source, mode=None, limits=limits)
    out = decoded.image
    scale = resize / min(out.size) if resize else 1.0
    if scale < 1:
        out = out.resize((max(1, round(out.width * scale)), max(1, round(out.height * scale))),
                         Image.Resampling.LANCZOS)
    return encode(out, output_format(decoded.format))
