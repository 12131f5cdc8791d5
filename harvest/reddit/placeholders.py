"""Recognising "this image was removed" placeholders by their content, not by their URL.

imgur answers a deleted image with its ``removed.png`` and Reddit with its own "removed" image, both
with status 200 and sometimes under the original URL, so only the pixels tell. A ``PlaceholderSet``
holds perceptual hashes (imagehash ``phash``) of known placeholders and matches images whose hash is
within ``max_distance`` bits, so a re-encoded or resized copy still matches.

Known placeholders are recognised by default without shipping their files:

- by URL (``placeholder_url``): where imgur and Reddit's image host redirect a deleted image
  (``i.imgur.com/removed.png``, a 161x81 PNG; ``i.redd.it/removed.png``, 130x60) and Reddit's
  static-asset host (``redditstatic.com``: its "image not found", NSFW and default thumbnails, never
  a user's image), so such an answer is ``removed`` before anything is stored;
- by digest (``KNOWN_DIGESTS``): the MD5 of imgur's ``removed.png`` bytes, which is also the ``ETag``
  imgur serves it with (download tools have long matched it). ``PlaceholderSet.reject`` is the
  fetcher's ``reject`` check (:class:`harvest.fetch.FetchOptions`): a placeholder URL or a known
  digest in the ``ETag`` header ends the download before its body is read, whatever URL answered;
  the body's own MD5 is checked too, for servers that send no ``ETag``.

Perceptual hashes of more placeholders (re-encoded or resized copies) come from image files you saved
(``PlaceholderSet.from_files``, the ``--placeholder`` option of ``harvest reddit``, added to the known
ones) or from hashes (``PlaceholderSet.from_hashes``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

import imagehash

from manifests import InputError, images

DEFAULT_DISTANCE = 6
# MD5 of the bytes of known placeholders -> their name.
KNOWN_DIGESTS = {"d835884373f4d6c8f24742ceabe74946": "imgur removed.png"}
# Paths that are placeholders on a host, and hosts that serve nothing but site assets.
PLACEHOLDER_PATHS = {"i.imgur.com": ("/removed.png",), "imgur.com": ("/removed.png",),
                     "s.imgur.com": ("/images/404",), "i.redd.it": ("/removed.png",)}
ASSET_HOSTS = ("redditstatic.com",)
_MD5_HEX = frozenset("0123456789abcdef")


def etag_digest(headers: Mapping[str, str]) -> str | None:
    """The ``ETag`` of an answer as a lowercase 32-hex-digit digest (quotes and ``W/`` removed), or
    ``None`` when it has none or it is not an MD5-shaped tag."""
    raw = (headers.get("ETag") or "").strip()
    tag = raw.removeprefix("W/").strip().strip('"').lower()
    return tag if len(tag) == 32 and set(tag) <= _MD5_HEX else None


def placeholder_url(url: str | None) -> str | None:
    """The name of the placeholder a (final, after redirects) URL is, or ``None``."""
    if not url:
        return None
    parts = urlsplit(url)
    host = parts.netloc.lower().rsplit("@", 1)[-1].split(":", 1)[0].removeprefix("www.")
    if any(host == h or host.endswith("." + h) for h in ASSET_HOSTS):
        return f"a {host} site asset"
    for prefix in PLACEHOLDER_PATHS.get(host, ()):
        if parts.path.lower().startswith(prefix):
            return f"{host}{parts.path}"
    return None


@dataclass(frozen=True)
class PlaceholderSet:
    """Known placeholder images as ``(name, phash)`` pairs."""

    hashes: tuple[tuple[str, imagehash.ImageHash], ...] = ()
    max_distance: int = DEFAULT_DISTANCE
    digests: tuple[tuple[str, str], ...] = ()

    @classmethod
    def known(cls) -> PlaceholderSet:
        """The placeholders recognised by default (``KNOWN_DIGESTS``)."""
        return cls(digests=tuple(KNOWN_DIGESTS.items()))

    def with_known(self) -> PlaceholderSet:
        """This set plus the known placeholders."""
        return replace(self, digests=tuple({**dict(self.digests), **KNOWN_DIGESTS}.items()))

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

    def reject(self, url: str, headers: Mapping[str, str]) -> str | None:
        """Why an answer is a placeholder before its body is read (its final URL, or a known digest
        as its ``ETag``), or ``None``: the fetcher's ``reject`` check."""
        name = placeholder_url(url)
        if name:
            return f"{url} is a 'removed image' placeholder ({name}); not downloaded"
        digest = etag_digest(headers)
        named = dict(self.digests).get(digest) if digest else None
        if named:
            return (f"answered with ETag \"{digest}\", the digest of a 'removed image' placeholder "
                    f"({named}); not downloaded")
        return None

    def match(self, data: bytes) -> str | None:
        """The name of the placeholder these image bytes are, or ``None``."""
        if self.digests:
            digest = hashlib.md5(data, usedforsecurity=False).hexdigest()
            named = dict(self.digests).get(digest)
            if named:
                return named
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
        return bool(self.hashes or self.digests)
