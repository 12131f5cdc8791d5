"""Perceptual hashes of manifest images: the hash methods, reduced-size decoding and a process pool.

Each method in :data:`METHODS` wraps one imagehash function and names the manifest column its hex
hashes live in (``phash`` for phash; the others are declared in :mod:`manifests.schema`). Decoding is
most of the cost, so :func:`decode_for` asks the one image opener (:func:`manifests.images.decode`)
for a smaller image (JPEG's DCT scaling through ``Image.draft``: a 1080p JPEG decodes at 1/8 size for
an 8x8 phash; other formats are box-reduced), always keeping at least :data:`DRAFT_FACTOR` times
the pixels the method resizes to, so the hash stays within a bit or two of imagehash on the full
decode.

:func:`compute_hashes` hashes the files of the rows that lack a hash (or hold one of another size),
on a process pool; per-file failures come back as a status and an error, never as an exception.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import imagehash
import numpy as np
import pandas as pd
from PIL import Image, ImageOps

from manifests import UsageError, images, schema
from manifests.executor import ExecutorSpec, run_partitions
from manifests.progress import NoProgress, Progress

log = logging.getLogger(__name__)

DRAFT_FACTOR = 4
_HEX = re.compile(r"[0-9a-fA-F]+")
@dataclass(frozen=True)
class HashMethod:
    """One perceptual hash: the imagehash function, its manifest columns and its working size.

    ``compute(image, size, full_size)`` hashes an already reduced image; ``full_size`` is the size of
    the image before reduction, for methods whose parameters depend on it (whash). ``side(size,
    full_size)`` is how many pixels a side reduced decoding keeps at least (divided by
    :data:`DRAFT_FACTOR`): the size the method resizes to, more for methods that resize to so few
    pixels that a coarse decode would move their bits (dhash, ahash), ``bits(size)`` the hash length and
    ``mode`` the mode to decode in.
    """

    name: str
    column: str
    flip_column: str
    compute: Callable[[Image.Image, int, tuple[int, int]], imagehash.ImageHash]
    side: Callable[[int, tuple[int, int]], int]
    bits: Callable[[int], int]
    default_size: int = 8
    mode: str = "L"
    size_rule: str = "at least 2"

    def valid_size(self, size: int) -> bool:
        """Whether imagehash accepts this hash size for the method (see ``size_rule``)."""
        if self.size_rule == "a power of 2":
            return size >= 2 and size & (size - 1) == 0
        return size >= 2

    def hex_length(self, size: int) -> int:
        """Characters in this method's hex hash of the given size."""
        return -(-self.bits(size) // 4)


def _whash_scale(size: int, full_size: tuple[int, int]) -> int:
    """The image_scale imagehash.whash would pick for the full image."""
    return max(2 ** int(math.log2(max(1, min(full_size)))), size)


METHODS: dict[str, HashMethod] = {
    "phash": HashMethod("phash", schema.PHASH, schema.PHASH_FLIP,
                        lambda im, s, _: imagehash.phash(im, s), lambda s, _: 4 * s, lambda s: s * s),
    "dhash": HashMethod("dhash", schema.DHASH, schema.DHASH_FLIP,
                        lambda im, s, _: imagehash.dhash(im, s), lambda s, _: 4 * (s + 1), lambda s: s * s),
    "ahash": HashMethod("ahash", schema.AHASH, schema.AHASH_FLIP,
                        lambda im, s, _: imagehash.average_hash(im, s), lambda s, _: 4 * s,
                        lambda s: s * s),
    "whash": HashMethod("whash", schema.WHASH, schema.WHASH_FLIP,
                        lambda im, s, full: imagehash.whash(im, s, image_scale=_whash_scale(s, full)),
                        _whash_scale, lambda s: s * s, size_rule="a power of 2"),
    "colorhash": HashMethod("colorhash", schema.COLORHASH, schema.COLORHASH_FLIP,
                            lambda im, s, _: imagehash.colorhash(im, binbits=s), lambda s, _: 16,
                            lambda s: 14 * s, default_size=3, mode="RGB"),
}


def method(name: str) -> HashMethod:
    """The registered hash method of that name, or a UsageError naming the choices."""
    try:
        return METHODS[name]
    except KeyError:
        raise UsageError(f"unknown --hash {name!r} (choose from {', '.join(METHODS)})") from None


def decode_for(path: str, how: HashMethod, size: int) -> images.Decoded:
    """Decode a file at reduced size for ``how``: >= ``DRAFT_FACTOR * how.side`` pixels a side.

    Raises :class:`manifests.images.ImageError` (a named status) when the file cannot be decoded.
    """
    return images.decode(path, min_side=lambda full: DRAFT_FACTOR * how.side(size, full), mode=how.mode,
                         reduce=True)


def hash_image(img: Image.Image, full: tuple[int, int], how: HashMethod, size: int,
               flip: bool = False) -> tuple[str, str | None]:
    """The hex hash of a decoded image and, with ``flip``, of its mirror image."""
    value = str(how.compute(img, size, full))
    mirrored = str(how.compute(ImageOps.mirror(img), size, full)) if flip else None
    return value, mirrored


def hash_file(path: str, name: str, size: int, flip: bool = False) -> tuple[str | None, str | None,
                                                                                 str | None, str | None]:
    """``(hash, mirrored hash, status, error)`` of one file; status is None when it hashed."""
    how = METHODS[name]
    try:
        decoded = decode_for(path, how, size)
    except images.ImageError as exc:
        return None, None, exc.status, f"cannot hash: {exc.error}"
    value, mirrored = hash_image(decoded.image, decoded.full_size, how, size, flip)
    return value, mirrored, None, None


def hash_batch(args: tuple[Sequence[str], str, int, bool]) -> list[tuple[str | None, ...]]:
    """One task of ``hash_files``: ``hash_file`` over a batch of paths (``hash_batches`` cuts them)."""
    paths, name, size, flip = args
    return [hash_file(p, name, size, flip) for p in paths]


# Images per task on a Dask cluster. Each task costs the driver ~7 CPU ms to schedule and to receive
# and unpack its result (measured with bench/scaleout.py on the 2-core box), so tasks are made large.
DASK_BATCH = 2048
LOCAL_BATCH = 64  # images per task in a local process pool


def hash_batches(paths: Sequence[str], name: str, size: int, flip: bool, spec: ExecutorSpec
                 ) -> list[tuple[Sequence[str], str, int, bool]]:
    """The tasks ``hash_files`` runs on ``spec``: ``hash_batch``'s arguments for each batch of paths."""
    batch = DASK_BATCH if spec.distributed else LOCAL_BATCH
    return [(paths[i:i + batch], name, size, flip) for i in range(0, len(paths), batch)]


def hash_files(paths: Sequence[str], name: str, size: int, flip: bool = False, workers: int = 1,
               progress: Progress | None = None, executor: ExecutorSpec | None = None
               ) -> Iterator[tuple[str | None, ...]]:
    """Hash files in order, in batches on the executor (``workers`` local processes unless
    ``executor`` says otherwise); yields ``hash_file`` results."""
    progress = progress or NoProgress()
    progress.total(len(paths), f"hashing ({name})")
    spec = executor or ExecutorSpec(workers=max(1, workers))
    for chunk in run_partitions(hash_batch, hash_batches(paths, name, size, flip, spec), spec):
        progress.advance(len(chunk))
        yield from chunk


@dataclass(frozen=True)
class HashOutcome:
    """What :func:`compute_hashes` did: rows hashed, rows that failed, rows that already had one."""

    hashed: int
    failed: int
    reused: int


def needs_hash(values: Sequence[object], length: int) -> np.ndarray:
    """Which stored hex hashes are missing, of another length or not hex at all."""
    return np.array([not isinstance(v, str) or len(v) != length or not _HEX.fullmatch(v) for v in values],
                    dtype=bool)


def compute_hashes(frame: pd.DataFrame, root: Path, rows: np.ndarray, how: HashMethod, size: int, flip: bool,
                   workers: int = 1, progress: Progress | None = None,
                   executor: ExecutorSpec | None = None) -> HashOutcome:
    """Fill ``how.column`` (and the mirrored column with ``flip``) for ``rows`` of ``frame`` in place.

    Only rows whose stored hash is missing or of another size are hashed; files are looked up
    relative to ``root`` (the manifest's folder). Rows whose file cannot be hashed get a status and
    an error.
    """
    length = how.hex_length(size)
    for col in (how.column, how.flip_column) if flip else (how.column,):
        if col not in frame.columns:
            frame[col] = None
    todo = needs_hash(frame.loc[rows, how.column].tolist(), length)
    if flip:
        todo |= needs_hash(frame.loc[rows, how.flip_column].tolist(), length)
    targets = rows[todo]
    paths = [str(root / p) if isinstance(p, str) else "" for p in frame.loc[targets, schema.PATH]]
    results = list(hash_files(paths, how.name, size, flip, workers, progress, executor))
    failed = 0
    values, mirrors = [], []
    for index, (value, mirrored, status, error) in zip(targets, results, strict=True):
        values.append(value)
        mirrors.append(mirrored)
        if status is not None:
            failed += 1
            frame.loc[index, schema.STATUS] = status
            frame.loc[index, schema.ERROR] = error
            log.warning("%s: %s", frame.loc[index, schema.PATH], error)
    if len(targets):
        frame.loc[targets, how.column] = values
        if flip:
            frame.loc[targets, how.flip_column] = mirrors
    return HashOutcome(hashed=len(targets) - failed, failed=failed, reused=len(rows) - len(targets))


def hex_to_bits(values: Sequence[str], length: int) -> np.ndarray:
    """Hex hashes of one length as a bit-packed ``uint8`` matrix (one row per hash)."""
    width = length + (length % 2)
    joined = "".join(v.rjust(width, "0") for v in values)
    return np.frombuffer(bytes.fromhex(joined), dtype=np.uint8).reshape(len(values), width // 2).copy()
