"""Thumbnails for ``curate report``: made in parallel, cached beside the manifest, inlined as data URIs.

A thumbnail is a small JPEG of an image's longer side ``size``, decoded at reduced size (JPEG draft
mode), EXIF-rotated and converted to RGB. It is cached in ``<manifest folder>/.cache/thumbs/<size>/``
under the image's sha256 (the identity of its bytes), so a second report reads a few kilobytes per
image instead of decoding it again. Images that cannot be opened get no thumbnail (``None``); the report
shows why instead of failing.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import math
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from manifests import images
from manifests.progress import NoProgress, Progress

log = logging.getLogger(__name__)

CACHE = Path(".cache") / "thumbs"


@dataclass(frozen=True)
class ThumbJob:
    """One image to thumbnail: its file and the key (sha256) its cached thumbnail is stored under."""

    path: Path
    key: str


def cache_dir(root: Path, size: int) -> Path:
    """Where thumbnails of ``size`` pixels are cached for the manifest folder ``root``."""
    return root / CACHE / str(size)


def job_for(root: Path, rel_path: str, sha256: str | None) -> ThumbJob:
    """The job for a manifest row: its sha256 is the key, or a hash of its path when it has none."""
    key = sha256 or hashlib.sha256(rel_path.encode()).hexdigest()
    return ThumbJob(root / rel_path, key)


def make_thumbnail(path: Path, size: int) -> bytes | None:
    """A JPEG thumbnail of the image at ``path`` (longer side ``size``), or None when it does not open."""
    try:
        # the one opener: JPEG decodes at 1/2, 1/4 or 1/8 scale when that still covers the thumbnail,
        # EXIF orientation applied, bombs refused
        img = images.decode(path, mode="RGB",
                            min_side=lambda full: math.ceil(min(full) * min(1.0, size / max(full)))).image
    except images.ImageError as exc:
        log.debug("no thumbnail for %s: %s", path, exc.error)
        return None
    img.thumbnail((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80)
    return buf.getvalue()


def _cached(job: ThumbJob, folder: Path, size: int) -> bytes | None:
    target = folder / job.key[:2] / f"{job.key}.jpg"
    if target.exists():
        return target.read_bytes()
    data = make_thumbnail(job.path, size)
    if data is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{target.name}.{os.getpid()}.{id(job)}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)  # atomic: a concurrent report never reads half a thumbnail
    return data


def thumbnails(jobs: Iterable[ThumbJob], root: Path, size: int = 128, workers: int | None = None,
               cache: bool = True, progress: Progress | None = None) -> dict[str, bytes | None]:
    """Thumbnails by key, made on a thread pool (Pillow decodes without the GIL), cached under ``root``."""
    unique = {job.key: job for job in jobs}
    folder = cache_dir(root, size)
    workers = workers or min(8, (os.cpu_count() or 1) * 2)
    progress = progress or NoProgress()
    progress.total(len(unique), "thumbnails")

    def one(job: ThumbJob) -> bytes | None:
        data = _cached(job, folder, size) if cache else make_thumbnail(job.path, size)
        progress.advance()
        return data

    if workers <= 1 or len(unique) < 4:
        return {key: one(job) for key, job in unique.items()}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(zip(unique, pool.map(one, unique.values()), strict=True))


def data_uri(data: bytes) -> str:
    """A JPEG's bytes as a ``data:`` URI an ``<img>`` shows without any file beside the page."""
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")
