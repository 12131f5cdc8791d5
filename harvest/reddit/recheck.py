"""``harvest reddit --recheck``: ask the source again for every post in a manifest and follow deletions.

Reddit's Data API terms ask clients to remove content users deleted. A recheck lists the manifest's
Reddit rows that are not already ``removed``, asks the source for their posts in batches (praw's
``Reddit.info`` by fullname, 100 a request, with credentials; Arctic Shift's ``/api/posts/ids``
without) and marks the rows of a post that is

- deleted (absent from the answer, or its author and text ``[deleted]``),
- removed (``removed_by_category``: moderator, reddit, copyright_takedown, ...),
- or whose media are gone (a gallery item no longer in the gallery; a post that now holds no media)

as ``removed``, with the reason in ``error`` and the time in ``removed_at``. ``curate export`` never
exports them; their files stay in the image store until ``curate gc`` deletes files no ``ok`` row
uses. Rows of posts that are still there are left as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from manifests import NetworkError, lineage, schema, update

from ..fetch import Fetcher, FetchOptions
from .media import GALLERY_GONE, REMOVED_POST, MediaRules, plan_media
from .sources import SourceOptions, credentials, submission_dict

log = logging.getLogger(__name__)

BATCH = 100  # ids per request: Reddit's /api/info takes 100 fullnames
EVERYTHING = MediaRules(previews=True, allow_nsfw=True, allow_spoilers=True)
SOURCE = "reddit"


@dataclass
class RecheckResult:
    """What a recheck found: posts asked about, rows marked ``removed`` and why (reason -> rows)."""

    source: str
    posts: int = 0
    marked: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "posts_checked": self.posts, "rows_removed": self.marked,
                "reasons": dict(sorted(self.reasons.items()))}

    def lines(self) -> list[str]:
        why = ", ".join(f"{n} {r}" for r, n in sorted(self.reasons.items())) or "none"
        return [f"rechecked {self.posts} posts through {self.source}: {self.marked} rows marked removed "
                f"({why})"]


def arctic_by_ids(fetcher: Fetcher, base_url: str, ids: list[str]) -> Iterator[dict[str, Any]]:
    """Posts by id from Arctic Shift's ``/api/posts/ids``, ``BATCH`` ids a request."""
    url = base_url.rstrip("/") + "/api/posts/ids"
    for start in range(0, len(ids), BATCH):
        page = fetcher.get_json(url, {"ids": ",".join(ids[start:start + BATCH])})
        if not isinstance(page, dict) or not isinstance(page.get("data"), list):
            raise NetworkError(f"{url} answered without a 'data' list: {str(page)[:200]}")
        yield from (p for p in page["data"] if isinstance(p, dict))


def praw_by_ids(options: SourceOptions, env: Mapping[str, str], ids: list[str]) -> Iterator[dict[str, Any]]:
    """Posts by id through praw's ``Reddit.info`` (fullnames ``t3_<id>``, 100 a request)."""
    import praw
    import prawcore

    kwargs: dict[str, Any] = {**({} if options.site else credentials(env) or {}),
                              "check_for_updates": False, "check_for_async": False}
    kwargs.update({k: v for k, v in (("oauth_url", options.oauth_url),
                                     ("reddit_url", options.reddit_url)) if v})
    try:
        reddit = praw.Reddit(options.site, **kwargs) if options.site else praw.Reddit(**kwargs)
        for submission in reddit.info(fullnames=[f"t3_{i}" for i in ids]):
            yield submission_dict(submission)
    except prawcore.exceptions.PrawcoreException as exc:
        raise NetworkError(f"Reddit API failed during the recheck: {exc}") from exc


def why_gone(post: dict[str, Any] | None, row: Mapping[str, Any]) -> str | None:
    """Why a row's image is no longer at the source, or ``None`` while it is."""
    if post is None:
        return "deleted: the source no longer has the post"
    source = (post.get("crosspost_parent_list") or [post])[0]
    for p in (post, source):
        if p.get("removed_by_category"):
            return f"removed: removed_by_category={p['removed_by_category']}"
        if p.get("author") in (None, "[deleted]") and p.get("selftext") in ("[deleted]", "[removed]"):
            return f"deleted: the post is {p.get('selftext')}"
    plan = plan_media(post, EVERYTHING)
    if plan.skip in (REMOVED_POST, GALLERY_GONE) or (plan.skip and not plan.media):
        return f"media gone: the post now holds none ({plan.skip})"
    if row.get(schema.GALLERY_INDEX) is not None:
        stems = {_stem(m.url) for m in plan.media if not m.gone}
        if _stem(str(row.get(schema.ORIGIN) or "")) not in stems:
            return "media gone: the gallery no longer holds this item"
    return None


def _stem(url: str) -> str:
    return PurePosixPath(urlsplit(url).path).stem


def recheck(manifest: Path, source: SourceOptions, fetch: FetchOptions = FetchOptions(),
            env: Mapping[str, str] | None = None) -> RecheckResult:
    """Ask the source about every Reddit post in ``manifest``; mark the rows of gone posts ``removed``."""
    import os

    import pandas as pd

    env = env if env is not None else os.environ
    use_praw = bool(source.site or credentials(env))
    result = RecheckResult("praw" if use_praw else "arctic-shift")
    with update(manifest, lineage.command_line()) as tx:
        frame = tx.frame
        mine = (frame[schema.SOURCE] == SOURCE) & (frame[schema.STATUS] != schema.REMOVED) \
            & frame[schema.POST_ID].notna() if schema.POST_ID in frame.columns else frame.index < 0
        ids = list(dict.fromkeys(frame.loc[mine, schema.POST_ID].astype(str)))
        result.posts = len(ids)
        if not ids:
            return result
        with Fetcher(fetch) as fetcher:
            found = praw_by_ids(source, env, ids) if use_praw \
                else arctic_by_ids(fetcher, source.arctic_url, ids)
            posts = {str(p.get("id")): p for p in found}
        when = lineage.now()
        if schema.REMOVED_AT not in frame.columns:
            frame[schema.REMOVED_AT] = pd.Series(pd.NA, index=frame.index, dtype="string")
        for index in frame.index[mine]:
            row = frame.loc[index].where(frame.loc[index].notna(), None).to_dict()
            why = why_gone(posts.get(str(row[schema.POST_ID])), row)
            if why is None:
                continue
            frame.loc[index, [schema.STATUS, schema.ERROR, schema.REMOVED_AT]] = \
                [schema.REMOVED, why, when]
            result.marked += 1
            kind = why.split(":", 1)[0]
            result.reasons[kind] = result.reasons.get(kind, 0) + 1
        tx.details.update(recheck=result.to_dict())
    return result
