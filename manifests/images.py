"""The one image opener: every package opens, verifies and decodes images through this module.

- :func:`sniff` names the real type of some bytes from their first bytes (``jpeg``, ``png``, ``html``,
  ``mp4``...), whatever a file name or a ``Content-Type`` claims.
- :func:`inspect_bytes` / :func:`inspect_file` verify fully (every frame of an animation is decoded),
  name what is wrong (HTML saved as .jpg, a truncated PNG, a decompression bomb) and measure; this is
  what the image store (:mod:`manifests.store`) keeps or refuses.
- :func:`decode` opens a file for use: reduced-size decoding (JPEG DCT scaling through
  ``Image.draft`` and, when asked, a box ``reduce()``) that keeps at least ``min_side`` pixels on the
  shorter side, EXIF orientation applied, converted to one mode; for hashing and training.
- :func:`failure` maps every exception opening an image can raise to ONE named status of
  :mod:`manifests.schema` (``corrupt``, ``truncated``, ``too_large``, ``unreadable``...) and a one-line
  error; :class:`ImageError` carries that pair.
- :func:`xmp` reads an image's embedded XMP metadata (the IPTC/PLUS data-mining opt-out lives there).
- :func:`image_suffixes` / :func:`is_image_name` are the one list of file suffixes treated as images
  (folder import, predict).

Bomb limits: :class:`Limits` caps bytes and pixels. Pillow warns about images between its
``MAX_IMAGE_PIXELS`` and twice that; since every image opened here is checked against
``Limits.max_pixels`` instead, that warning is silenced once for the process (warning filters are
process-global and not thread-safe, so they are never toggled per call).

Example::

    from manifests import images
    info = images.inspect_file("cat.jpg")          # ImageInfo(status="ok", width=..., ...)
    small = images.decode("cat.jpg", min_side=64, mode="L").image
"""

from __future__ import annotations

import functools
import hashlib
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from . import schema
from .atomic import temp_beside
from .errors import UsageError

# Pillow's own warning threshold; images with more pixels are refused as likely bombs.
DEFAULT_MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
MAX_FRAMES_VERIFIED = 64  # a 1,000-page TIFF cost 14 CPU-s to verify whole; the rest are counted
ORIENTATION = 0x0112  # the EXIF tag

EXTENSIONS = {"jpeg": "jpg", "mpo": "jpg", "tiff": "tif", "jpeg2000": "jp2"}
# Imported as rows even when they cannot be decoded here (SVG is refused as ``unsupported``; HEIC
# needs a plug-in), so no image file is silently skipped.
EXTRA_SUFFIXES = frozenset({".svg", ".heic", ".heif", ".avif"})

_SIGNATURES = (
    (b"\xff\xd8\xff", "jpeg"), (b"\x89PNG\r\n\x1a\n", "png"), (b"GIF87a", "gif"), (b"GIF89a", "gif"),
    (b"BM", "bmp"), (b"II*\x00", "tiff"), (b"MM\x00*", "tiff"), (b"\x1aE\xdf\xa3", "webm"),
    (b"%PDF", "pdf"), (b"PK\x03\x04", "zip"),
)
# What sniffed kinds that are certainly not raster images are, for the error message.
NOT_IMAGE_KINDS = {"html": "an HTML page", "json": "JSON", "pdf": "a PDF document", "zip": "a ZIP archive"}
_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)
_QUIET = ("ignore", None, Image.DecompressionBombWarning, None, 0)


def _quiet_bomb_warning() -> None:
    """Install the one filter for Pillow's bomb warning, when it is not there (a read per call)."""
    if _QUIET not in warnings.filters:
        warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


_quiet_bomb_warning()


@functools.cache
def image_suffixes() -> frozenset[str]:
    """The one list of image file suffixes: every suffix Pillow reads, plus :data:`EXTRA_SUFFIXES`.

    Computed on first use (it loads every Pillow plug-in), so importing this module stays cheap.
    """
    return frozenset(Image.registered_extensions()) | EXTRA_SUFFIXES


def is_image_name(path: str | os.PathLike[str]) -> bool:
    """Whether a file name has an image suffix (case-insensitive): ``harvest folder``, ``train predict``."""
    return Path(path).suffix.lower() in image_suffixes()


@dataclass(frozen=True)
class Limits:
    """What the opener refuses: files over ``max_bytes``, images over ``max_pixels``."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS

    def __post_init__(self) -> None:
        if self.max_bytes < 1 or self.max_pixels < 1:
            raise UsageError(f"--max-bytes and --max-pixels must be above 0, not {self.max_bytes} "
                             f"and {self.max_pixels}")


@dataclass(frozen=True)
class ImageInfo:
    """What verification learned about some bytes; ``status`` is ``ok`` or why not."""

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


class ImageError(Exception):
    """An image that cannot be used, with its named ``status`` and a one-line ``error``."""

    def __init__(self, status: str, error: str) -> None:
        super().__init__(error)
        self.status, self.error = status, error


def sniff(data: bytes) -> str | None:
    """The real type of some bytes from their first bytes: ``jpeg``, ``png``, ``html``, ``mp4``, ..."""
    head = data[:64]
    for sign, kind in _SIGNATURES:
        if head.startswith(sign):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "avif" if brand in (b"avif", b"avis") else "heic" if brand.startswith(b"hei") else "mp4"
    text = data[:512].lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "html"
    if text.startswith((b"<svg", b"<?xml")):
        return "svg" if b"<svg" in data[:4096].lower() else "xml"
    if text.startswith((b"{", b"[")):
        return "json"
    if text.startswith((b"%pdf", b"pk\x03\x04")):
        return "pdf" if text.startswith(b"%pdf") else "zip"
    if b"<html" in text or b"<body" in text:
        return "html"
    return None


def _refused_kind(data: bytes) -> tuple[str, str] | None:
    """``(status, error)`` for bytes the sniffer says are not a raster image."""
    kind = sniff(data)
    if kind == "svg":
        return schema.UNSUPPORTED, "SVG vector image: rasterise it first (e.g. with cairosvg)"
    if kind in NOT_IMAGE_KINDS:
        return schema.NOT_IMAGE, f"not an image: the bytes are {NOT_IMAGE_KINDS[kind]}"
    return None


def _looks_like_text(data: bytes) -> bool:
    try:
        text = data[:1024].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\r\n\t" for ch in text)


def failure(exc: BaseException, data: bytes | None = None) -> tuple[str, str]:
    """The one named status and a one-line error for any exception opening an image raised.

    ``data`` (the bytes, when known) tells text saved as an image from a corrupt image.
    """
    if isinstance(exc, ImageError):
        return exc.status, exc.error
    text = (str(exc) or type(exc).__name__).splitlines()[0]
    if isinstance(exc, Image.DecompressionBombError):
        return schema.TOO_LARGE, f"decompression bomb: {text}"
    if isinstance(exc, FileNotFoundError):
        return schema.UNREADABLE, f"file not found: {exc.filename}"
    if isinstance(exc, (PermissionError, IsADirectoryError)):
        return schema.UNREADABLE, f"cannot read file: {exc.strerror or text}"
    if isinstance(exc, UnidentifiedImageError):
        refused = _refused_kind(data) if data else None
        if refused:
            return refused
        if data is not None and _looks_like_text(data):
            return schema.NOT_IMAGE, "not an image: the bytes are text"
        return schema.CORRUPT, "corrupt image: no format Pillow can identify"
    if isinstance(exc, EOFError) or "truncat" in text.lower():
        return schema.TRUNCATED, f"truncated image: {text}"
    return schema.CORRUPT, f"corrupt image: {text}"


def _failure(data: bytes, status: str, error: str) -> ImageInfo:
    sha = hashlib.sha256(data).hexdigest() if data else None
    return ImageInfo(sha, len(data), status, error)


def _pixel_error(size: tuple[int, int], limits: Limits) -> str | None:
    width, height = size
    if width * height > limits.max_pixels:
        return (f"decompression bomb: {width}x{height} = {width * height} pixels, over the "
                f"{limits.max_pixels} limit")
    return None


def inspect_bytes(data: bytes, limits: Limits = Limits()) -> ImageInfo:
    """Verify that ``data`` is a whole, decodable image (every frame) and measure it."""
    if not data:
        return ImageInfo(None, 0, schema.EMPTY, "empty file (0 bytes)")
    if len(data) > limits.max_bytes:
        return _failure(data, schema.TOO_LARGE, f"{len(data)} bytes, over the {limits.max_bytes} limit")
    refused = _refused_kind(data)
    if refused:
        return _failure(data, *refused)
    _quiet_bomb_warning()
    try:
        img = Image.open(BytesIO(data))
    except (*_ERRORS, UnidentifiedImageError) as exc:
        return _failure(data, *failure(exc, data))
    with img:
        bomb = _pixel_error(img.size, limits)
        if bomb:
            return _failure(data, schema.TOO_LARGE, bomb)
        fmt = (img.format or "").lower() or None
        try:
            pages = int(getattr(img, "n_frames", 1))
            for index in range(min(pages, MAX_FRAMES_VERIFIED)):
                img.seek(index)
                img.load()
        except _ERRORS as exc:
            return _failure(data, *failure(exc, data))
        width, height = img.size
    return ImageInfo(hashlib.sha256(data).hexdigest(), len(data), schema.OK, None, fmt, width, height,
                     pages)


def encoded_info(data: bytes, fmt: str, size: tuple[int, int], limits: Limits = Limits()) -> ImageInfo:
    """Measure bytes this process has just encoded from pixels with Pillow (``fmt`` its format name,
    ``size`` the picture's): the limits apply, but they are not decoded again to be verified."""
    if len(data) > limits.max_bytes:
        return _failure(data, schema.TOO_LARGE, f"{len(data)} bytes, over the {limits.max_bytes} limit")
    bomb = _pixel_error(size, limits)
    if bomb:
        return _failure(data, schema.TOO_LARGE, bomb)
    return ImageInfo(hashlib.sha256(data).hexdigest(), len(data), schema.OK, None, fmt.lower(), *size, 1)


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


def write_once(path: str | os.PathLike[str], data: bytes) -> None:
    """Write an image file named by its content: never rewritten when it exists, otherwise written
    atomically (temp file beside it, then rename), so no reader sees half a file."""
    target = Path(path)
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_beside(target, suffix=".part", prefix=".")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def inspect_file(path: str | os.PathLike[str], limits: Limits = Limits()) -> ImageInfo:
    """``inspect_bytes`` on a file, refusing files over the byte limit before reading them."""
    data = read_limited(path, limits)
    return data if isinstance(data, ImageInfo) else inspect_bytes(data, limits)


@dataclass(frozen=True)
class Decoded:
    """A decoded image, the size of the full image it came from (after EXIF orientation) and the
    file's format (``JPEG``, ``PNG``...)."""

    image: Image.Image
    full_size: tuple[int, int]
    format: str | None = None


SideRule = int | Callable[[tuple[int, int]], int] | None


def decode(path: str | os.PathLike[str] | bytes, *, min_side: SideRule = None, mode: str | None = "RGB",
           reduce: bool = False, orient: bool = True, limits: Limits = Limits()) -> Decoded:
    """Open an image file (or bytes) for use, decoded at reduced size when ``min_side`` allows.

    The decoder is asked for the smallest size whose shorter side keeps at least ``min_side`` pixels
    (JPEG decodes at 1/2, 1/4 or 1/8 size); with ``reduce`` other formats are then box-reduced to
    about that size too; ``min_side`` may be a function of the full ``(width, height)``. The image
    is turned by its EXIF orientation (``orient``) and converted to ``mode`` (``None``: kept). Raises
    :class:`ImageError` (a named status) for anything that cannot be used.
    """
    _quiet_bomb_warning()
    try:
        with Image.open(BytesIO(path) if isinstance(path, bytes) else path) as img:
            bomb = _pixel_error(img.size, limits)
            if bomb:
                raise ImageError(schema.TOO_LARGE, bomb)
            full, fmt = img.size, img.format
            side = min_side(full) if callable(min_side) else min_side
            scale = max(1, min(full) // side) if side else 1
            if scale > 1:
                img.draft(mode or img.mode, (max(1, full[0] // scale), max(1, full[1] // scale)))
            turn = _transpose_of(img) if orient else None
            out = _convert(img, mode)
        if reduce and side:
            factor = min(out.size) // side
            out = out.reduce(factor) if factor > 1 else out
    except (*_ERRORS, UnidentifiedImageError) as exc:
        head = _head(path) if isinstance(exc, UnidentifiedImageError) else None
        raise ImageError(*failure(exc, head)) from exc
    if turn is not None:
        out = out.transpose(turn)
        if turn in _SWAPS:
            full = (full[1], full[0])
    return Decoded(out, full, fmt)


def header(source: str | os.PathLike[str] | bytes) -> tuple[str | None, tuple[int, int]] | None:
    """The format and size an image's header declares (nothing decoded); ``None`` when it is no image."""
    try:
        with Image.open(BytesIO(source) if isinstance(source, bytes) else source) as img:
            return img.format, img.size
    except (*_ERRORS, UnidentifiedImageError):
        return None


def xmp(data: bytes) -> dict[str, Any]:
    """The image's XMP packet as nested dicts (Pillow's ``getxmp``: namespaces dropped, attributes and
    elements alike as keys); ``{}`` when there is none or it cannot be read. Only the header is read."""
    try:
        with Image.open(BytesIO(data)) as img:
            found = img.getxmp()
    except (*_ERRORS, UnidentifiedImageError):  # XML ParseError is a SyntaxError
        return {}
    return found if isinstance(found, dict) else {}


def _head(path: str | os.PathLike[str] | bytes) -> bytes | None:
    """The first bytes of a file, to name what an unidentified image really is."""
    if isinstance(path, bytes):
        return path[:4096]
    try:
        with open(path, "rb") as fh:
            return fh.read(4096)
    except OSError:
        return None


_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
              4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
              6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}
_SWAPS = {Image.Transpose.TRANSPOSE, Image.Transpose.ROTATE_270, Image.Transpose.TRANSVERSE,
          Image.Transpose.ROTATE_90}


def _transpose_of(img: Image.Image) -> Image.Transpose | None:
    """The transpose that EXIF orientation asks for (as ``ImageOps.exif_transpose`` reads it)."""
    return _TRANSPOSE.get(img.getexif().get(ORIENTATION, 1))


def _convert(img: Image.Image, mode: str | None) -> Image.Image:
    """A decoded copy in ``mode`` (``None``: its own); palette images with transparency go through RGBA
    (no warning)."""
    if mode is None or img.mode == mode:
        return img.copy()
    if img.mode == "P" and "transparency" in img.info and mode != "RGBA":
        return img.convert("RGBA").convert(mode)
    return img.convert(mode)

