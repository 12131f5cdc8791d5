"""Recognising "this image was removed" placeholders by their content, not by their URL.

imgur answers a deleted image with its ``removed.png`` and Reddit with its own "removed" image, both
with status 200 and sometimes under the original URL, so only the pixels tell. A ``PlaceholderSet``
holds perceptual hashes (imagehash ``phash``) of known placeholders and matches images whose hash is
within ``max_distance`` bits, so a re-encoded or resized copy still matches.

The project ships no copyrighted placeholder images: build a set from image files you saved
(``PlaceholderSet.from_files``, the ``--placeholder`` option of ``harvest reddit``) or from hashes
(``PlaceholderSet.from_hashes``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import imagehash

from manifests import InputError, images

DEFAULT_DISTANCE = 6


@dataclass(frozen=True)
class PlaceholderSet:
    """Known placeholder images as ``(name, phash)`` pairs."""

    hashes: tuple[tuple[str, imagehash.ImageHash], ...] = ()
    max_distance: int = DEFAULT_DISTANCE

    @classmethod
    def from_files(cls, paths: Iterable[str | os.PathLike[str]],
                   max_distance: int = DEFAULT_DISTANCE) -> PlaceholderSet:
        """Hash placeholder images saved as files; an unreadable one is an ``InputError``."""
        hashes = []
        for path in paths:
            try:
                img = images.decode(path, mode="RGB").image
            except images.ImageError as exc:
                raise InputError(f"placeholder image {path} cannot be used: {exc.error}") from exc
            hashes.append((os.path.basename(path), imagehash.phash(img)))
        return cls(tuple(hashes), max_distance)

    @classmethod
    def from_hashes(cls, named: dict[str, str], max_distance: int = DEFAULT_DISTANCE) -> PlaceholderSet:
        """Placeholders given as ``{name: phash hex}``."""
        return cls(tuple((n, imagehash.hex_to_hash(h)) for n, h in named.items()), max_distance)

    def match(self, data: bytes) -> str | None:
        """The name of the placeholder these image bytes are, or ``None``."""
        if not self.hashes:
            return None
        try:
            found = imagehash.phash(images.decode(data, mode="RGB").image)
        except images.ImageError:
            return None
        for name, known in self.hashes:
            if found - known <= self.max_distance:
                return name
        return None

    def __bool__(self) -> bool:
        return bool(self.hashes)
