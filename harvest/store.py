"""The image store: the one place that opens, verifies and stores image bytes.

``inspect_bytes`` decodes the bytes fully with Pillow (every frame of an animation), names what is
wrong when they are not a usable image (HTML saved as .jpg, a truncated PNG, a decompression bomb)
and measures them. ``store_bytes`` also writes verified bytes to ``images/<sha[:2]>/<sha>.<ext>``
under a dataset folder, the extension taken from the real format; storing the same bytes twice writes
nothing new.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from manifests import UsageError, schema

from .defaults import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS

STORE_DIR = "images"
# Frames (animations) or pages (TIFF) decoded to verify a file; the rest are counted, not decoded:
# a 1,000-page TIFF cost 14 CPU-s to verify whole.
MAX_FRAMES_VERIFIED = 64

EXTENSIONS = {"jpeg": "jpg", "mpo": "jpg", "tiff": "tif", "jpeg2000": "jp2"}
# Leading bytes of things that are often served or saved as images but are not.
_NOT_IMAGE_SIGNS = (
    (b"<!doctype html", "an HTML page"), (b"<html", "an HTML page"), (b"<head", "an HTML page"),
    (b"{", "JSON"), (b"[", "JSON"), (b"%pdf", "a PDF document"), (b"pk\x03\x04", "a ZIP archive"),
)
_VECTOR_SIGNS = (b"<svg", b"<?xml")


@dataclass(frozen=True)
class Limits:
    """What the store refuses: files over ``max_bytes``, images over ``max_pixels``."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS

    def __post_init__(self) -> None:
        if self.max_bytes < 1 or self.max_pixels < 1:
            raise UsageError(f"--max-bytes and --max-pixels must be above 0, not {self.max_bytes} "
                             f"and {self.max_pixels}")


@dataclass(frozen=True)
class ImageInfo:
    """What the store learned about some bytes; ``status`` is ``ok`` or why not."""

    sha256: str | None
    size: int
    status: str
    error: str | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    pages: int | None = None  # frames or pages in the file, when more than one

    @property
    def ok(self) -> bool:
        return self.status == schema.OK

    @property
    def extension(self) -> str:
        """File extension for the real format, without the dot."""
        fmt = (self.format or "bin").lower()
        return EXTENSIONS.get(fmt, fmt)

    def row(self) -> dict[str, Any]:
        """The manifest columns this information fills."""
        row = {schema.SHA256: self.sha256, schema.BYTES: self.size, schema.STATUS: self.status,
               schema.ERROR: self.error, schema.FORMAT: self.format, schema.WIDTH: self.width,
               schema.HEIGHT: self.height}
        if self.pages and self.pages > 1:
            row[schema.PAGES] = self.pages
        return row


def _failure(data: bytes, status: str, error: str) -> ImageInfo:
    sha = hashlib.sha256(data).hexdigest() if data else None
    return ImageInfo(sha, len(data), status, error)


def _sniff_non_image(data: bytes) -> tuple[str, str] | None:
    head = data[:512].lstrip().lower()
    if any(head.startswith(s) for s in _VECTOR_SIGNS) and b"<svg" in data[:4096].lower():
        return schema.UNSUPPORTED, "SVG vector image: rasterise it first (e.g. with cairosvg)"
    for sign, what in _NOT_IMAGE_SIGNS:
        if head.startswith(sign):
            return schema.NOT_IMAGE, f"not an image: the bytes are {what}"
    if b"<html" in head or b"<body" in head:
        return schema.NOT_IMAGE, "not an image: the bytes are an HTML page"
    return None


def _looks_like_text(data: bytes) -> bool:
    head = data[:1024]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\r\n\t" for ch in text)


def _decode_error(exc: Exception) -> tuple[str, str]:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, EOFError) or "truncat" in text.lower():
        return schema.TRUNCATED, f"truncated image: {text}"
    return schema.CORRUPT, f"corrupt image: {text}"


def inspect_bytes(data: bytes, limits: Limits = Limits()) -> ImageInfo:
    """Verify that ``data`` is a whole, decodable image and measure it."""
    if not data:
        return ImageInfo(None, 0, schema.EMPTY, "empty file (0 bytes)")
    if len(data) > limits.max_bytes:
        return _failure(data, schema.TOO_LARGE, f"{len(data)} bytes, over the {limits.max_bytes} limit")
    sniffed = _sniff_non_image(data)
    if sniffed:
        return _failure(data, *sniffed)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(BytesIO(data))
    except Image.DecompressionBombError as exc:
        return _failure(data, schema.TOO_LARGE, f"decompression bomb: {exc}")
    except UnidentifiedImageError:
        if _looks_like_text(data):
            return _failure(data, schema.NOT_IMAGE, "not an image: the bytes are text")
        return _failure(data, schema.CORRUPT, "corrupt image: no format Pillow can identify")
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        return _failure(data, *_decode_error(exc))
    with img:
        width, height = img.size
        if width * height > limits.max_pixels:
            return _failure(data, schema.TOO_LARGE, f"decompression bomb: {width}x{height} = "
                            f"{width * height} pixels, over the {limits.max_pixels} limit")
        fmt = (img.format or "").lower() or None
        try:
            pages = int(getattr(img, "n_frames", 1))
            for index in range(min(pages, MAX_FRAMES_VERIFIED)):
                img.seek(index)
                img.load()
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
            return _failure(data, *_decode_error(exc))
    return ImageInfo(hashlib.sha256(data).hexdigest(), len(data), schema.OK, None, fmt, width, height,
                     pages)


def read_limited(path: str | os.PathLike[str], limits: Limits = Limits()) -> bytes | ImageInfo:
    """Read a file's bytes, or an ``ImageInfo`` saying why they could not be read."""
    try:
        size = os.stat(path).st_size
        if size > limits.max_bytes:
            return ImageInfo(None, size, schema.TOO_LARGE,
                             f"{size} bytes, over the {limits.max_bytes} limit")
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        return ImageInfo(None, 0, schema.UNREADABLE, f"cannot read file: {exc.strerror or exc}")


def inspect_file(path: str | os.PathLike[str], limits: Limits = Limits()) -> ImageInfo:
    """``inspect_bytes`` on a file, refusing files over the byte limit before reading them."""
    data = read_limited(path, limits)
    return data if isinstance(data, ImageInfo) else inspect_bytes(data, limits)


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
    info = inspect_bytes(data, limits)
    if not info.ok:
        return info, None
    rel = stored_path(info)
    target = Path(root) / rel
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".", suffix=".part", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return info, rel


def store_file(path: str | os.PathLike[str], root: str | os.PathLike[str],
               limits: Limits = Limits()) -> tuple[ImageInfo, Path | None]:
    """``store_bytes`` on a file's contents."""
    data = read_limited(path, limits)
    if isinstance(data, ImageInfo):
        return data, None
    return store_bytes(data, root, limits)
