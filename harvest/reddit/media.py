"""From a Reddit post (its JSON as a dict) to the images it holds, or the reason it holds none.

``plan_media`` applies the rules of ``harvest reddit``:

- self posts, removed or deleted posts, and NSFW/spoiler posts (unless allowed) hold nothing;
- crossposts take their media from the first ``crosspost_parent_list`` entry;
- galleries follow ``gallery_data`` order through ``media_metadata``, keeping items whose status is
  ``valid`` and the largest (``s``) rendition, with HTML entities in URLs unescaped; items Reddit
  marks ``failed`` are ``gone`` media (a row saying so, nothing to download);
- ``i.redd.it`` and ``i.imgur.com`` links are direct images; ``imgur.com/<id>`` pages map to
  ``i.imgur.com/<id>.jpg`` (imgur serves the real format whatever the extension); albums are not
  resolved without imgur's API;
- ``v.redd.it`` videos (and ``.gifv``) become ``video`` media, which the collector skips unless a
  video handler is wired in;
- other link posts fall back to Reddit's ``preview`` source image when previews are allowed.

The same functions work on posts from praw, the Arctic Shift API and the monthly dump files.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from manifests import UsageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".avif", ".heic")
_IMGUR_PAGE = re.compile(r"^/(?:gallery/|a/|t/[^/]+/)?(?P<id>[A-Za-z0-9]{5,8})(?:\.(?P<ext>\w+))?/?$")
_REMOVED_TEXT = frozenset({"[removed]", "[deleted]"})

# Why a post gives no image (RunSummary skip reasons).
SELF_POST = "self_post"
REMOVED_POST = "removed_post"
NSFW = "nsfw"
SPOILER = "spoiler"
VIDEO = "video"
NO_IMAGE = "no_image"
LINK_ONLY = "link_without_image"
IMGUR_ALBUM = "imgur_album"
GALLERY_GONE = "gallery_unavailable"


@dataclass(frozen=True)
class MediaRules:
    """Which posts and media ``plan_media`` accepts."""

    previews: bool = False
    allow_nsfw: bool = False
    allow_spoilers: bool = False

    def __post_init__(self) -> None:
        if not all(isinstance(v, bool) for v in (self.previews, self.allow_nsfw, self.allow_spoilers)):
            raise UsageError("MediaRules takes True or False for previews, allow_nsfw, allow_spoilers")


@dataclass(frozen=True)
class Media:
    """One image (or video) of a post. ``kind``: image, gallery, imgur, preview or video."""

    url: str
    kind: str
    gallery_index: int | None = None
    gone: str | None = None  # why there is nothing to download (a row records it)


@dataclass(frozen=True)
class MediaPlan:
    """The media of a post, or ``skip``: why it has none."""

    media: tuple[Media, ...] = ()
    skip: str | None = None


def _host(url: str) -> str:
    return urlsplit(url).netloc.lower().removeprefix("www.").removeprefix("m.")


def is_removed(post: dict[str, Any]) -> bool:
    """Removed by moderators, Reddit or the author (the listing still shows the post)."""
    if post.get("removed_by_category"):
        return True
    return post.get("selftext") in _REMOVED_TEXT and post.get("author") in (None, "[deleted]")


def gallery_media(post: dict[str, Any]) -> list[Media]:
    """Gallery images in ``gallery_data`` order: valid items only, largest rendition, unescaped URLs."""
    items = (post.get("gallery_data") or {}).get("items") or []
    metadata = post.get("media_metadata") or {}
    out = []
    for index, item in enumerate(items):
        meta = metadata.get(item.get("media_id")) or {}
        if meta.get("status") == "failed" and not item.get("is_deleted"):
            out.append(Media(f"https://www.reddit.com/gallery/{post.get('id')}#{item.get('media_id')}",
                             "gallery", index, f"gallery item {item.get('media_id')} has status "
                             "'failed' at Reddit (the upload never became an image)"))
            continue
        if meta.get("status") != "valid" or item.get("is_deleted"):
            continue
        source = meta.get("s") or {}
        url = source.get("u") or source.get("gif") or source.get("mp4")
        if url:
            kind = "video" if url == source.get("mp4") and not source.get("gif") else "gallery"
            out.append(Media(html.unescape(url), kind, index))
    return out


def imgur_direct(url: str) -> str | None:
    """``i.imgur.com`` URLs as they are; ``imgur.com/<id>`` pages as their direct image; else ``None``."""
    parts = urlsplit(url)
    host = _host(url)
    if host == "i.imgur.com":
        return url
    if host != "imgur.com":
        return None
    m = _IMGUR_PAGE.match(parts.path)
    if not m or parts.path.startswith(("/a/", "/gallery/")):
        return None
    return f"https://i.imgur.com/{m['id']}.{m['ext'] or 'jpg'}"


def preview_media(post: dict[str, Any]) -> Media | None:
    """Reddit's full-size preview of a link post."""
    images = (post.get("preview") or {}).get("images") or []
    source = (images[0].get("source") or {}) if images else {}
    url = source.get("url")
    return Media(html.unescape(url), "preview") if url else None


def _video(post: dict[str, Any]) -> Media | None:
    url = post.get("url_overridden_by_dest") or post.get("url") or ""
    reddit_video = ((post.get("secure_media") or post.get("media") or {}).get("reddit_video") or {})
    if post.get("is_video") or _host(url) == "v.redd.it" or reddit_video:
        return Media(html.unescape(reddit_video.get("fallback_url") or url), VIDEO)
    if url.lower().endswith((".gifv", ".mp4", ".webm")):
        return Media(url[:-5] + ".mp4" if url.lower().endswith(".gifv") else url, VIDEO)
    return None


def _link_media(post: dict[str, Any], rules: MediaRules) -> MediaPlan:
    """Media of a (non-crosspost) link post."""
    if post.get("is_gallery") or post.get("gallery_data"):
        gallery = gallery_media(post)
        return MediaPlan(tuple(gallery)) if gallery else MediaPlan(skip=GALLERY_GONE)
    video = _video(post)
    if video:
        return MediaPlan((video,))
    url = html.unescape(post.get("url_overridden_by_dest") or post.get("url") or "")
    host = _host(url)
    imgur = imgur_direct(url)
    if imgur:
        return MediaPlan((Media(imgur, "imgur"),))
    if host == "i.redd.it" or urlsplit(url).path.lower().endswith(IMAGE_SUFFIXES):
        return MediaPlan((Media(url, "image"),))
    preview = preview_media(post) if rules.previews else None
    if preview:
        return MediaPlan((preview,))
    if host == "imgur.com":
        return MediaPlan(skip=IMGUR_ALBUM)
    return MediaPlan(skip=LINK_ONLY if preview_media(post) else NO_IMAGE)


def plan_media(post: dict[str, Any], rules: MediaRules = MediaRules()) -> MediaPlan:
    """The images of a post under ``rules``, or why there are none."""
    source = (post.get("crosspost_parent_list") or [post])[0]  # a crosspost shows its parent's media
    posts = (post, source)
    if any(is_removed(p) for p in posts):
        return MediaPlan(skip=REMOVED_POST)
    if any(p.get("over_18") for p in posts) and not rules.allow_nsfw:
        return MediaPlan(skip=NSFW)
    if any(p.get("spoiler") for p in posts) and not rules.allow_spoilers:
        return MediaPlan(skip=SPOILER)
    if source.get("is_self"):
        return MediaPlan(skip=SELF_POST)
    return _link_media(source, rules)
