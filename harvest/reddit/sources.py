"""Where Reddit posts come from: praw listings, the Arctic Shift API, or local dump files.

``PostStream`` picks the source and says why (``choice``), then yields posts as plain dicts (the JSON
Reddit serves), whichever source they came from:

- ``dump``: ``--dump RS_2020-07.zst`` files, zstd-compressed NDJSON streamed with a large window and
  filtered by subreddit and time window;
- ``arctic-shift``: the public Arctic Shift API (``/api/posts/search``, no key), paged by
  ``created_utc``; used for ``--after/--before`` windows, which listings cannot reach, and whenever no
  Reddit credentials are configured;
- ``praw``: Reddit's OAuth API through praw, with credentials from ``REDDIT_CLIENT_ID``,
  ``REDDIT_CLIENT_SECRET``, ``REDDIT_USER_AGENT`` or a praw.ini site; sorts, ``--time``, ``--limit``
  (default: all the listing gives; Reddit stops near 1000, and ``notes`` says so when it does).

With ``top`` the window is ranked by score client-side and the best ``top`` posts of each subreddit
are kept.
"""

from __future__ import annotations

import configparser
import heapq
import io
import json
import logging
import os
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from manifests import InputError, NetworkError, UsageError
from manifests.redact import redact

from ..defaults import ARCTIC_SHIFT_URL
from ..fetch import DEFAULT_USER_AGENT, Fetcher
from ..values import finite_int

log = logging.getLogger(__name__)

SORTS = ("hot", "new", "top", "controversial", "rising")
TIMES = {"hour": 3600, "day": 86400, "week": 7 * 86400, "month": 30 * 86400, "year": 365 * 86400,
         "all": None}
ARCTIC_PAGE = 100
LISTING_CAP = 1000
CAP_NOTICE = 900  # a listing that ends past this many posts was most likely cut by Reddit's cap
DUMP_WINDOW = 2**31
# What reading a post (or a listing) of an unexpected shape raises: a list where an object belongs,
# "nan" where a number does, JSON nested too deep.
SHAPE_ERRORS = (AttributeError, TypeError, KeyError, IndexError, ValueError, OverflowError, RecursionError)


@dataclass(frozen=True)
class SourceOptions:
    """What posts to list and from where.

    Attributes:
        subreddits: names without ``r/``.
        sort, time, limit: the listing (``limit=None``: everything the source gives).
        after, before: a ``created_utc`` window in Unix seconds (uses Arctic Shift or dumps).
        top: keep the ``top`` best-scored posts of the window.
        dumps: local Reddit dump files (``RS_YYYY-MM.zst``); used instead of any API.
        site: praw.ini site with the credentials.
        oauth_url, reddit_url: Reddit API endpoints (a mirror or a test server).
        arctic_url: base URL of the Arctic Shift API.
    """

    subreddits: tuple[str, ...]
    sort: str = "hot"
    time: str = "all"
    limit: int | None = None
    after: int | None = None
    before: int | None = None
    top: int | None = None
    dumps: tuple[Path, ...] = ()
    site: str | None = None
    oauth_url: str | None = None
    reddit_url: str | None = None
    arctic_url: str = ARCTIC_SHIFT_URL

    def __post_init__(self) -> None:
        if self.sort not in SORTS:
            raise UsageError(f"--sort must be one of {', '.join(SORTS)}, not {self.sort!r}")
        if self.time not in TIMES:
            raise UsageError(f"--time must be one of {', '.join(TIMES)}, not {self.time!r}")
        if self.after is not None and self.before is not None and self.after >= self.before:
            raise UsageError("--after must be earlier than --before")
        if not self.subreddits:
            raise UsageError("give at least one subreddit")
        if (self.limit is not None and self.limit < 1) or (self.top is not None and self.top < 1):
            raise UsageError("--limit and --top must be 1 or more")


def archive_period(options: SourceOptions) -> str:
    """The ``--time`` span the archive stands in for a listing with: hot, new and rising are recent."""
    if options.sort in ("hot", "new", "rising") and options.time == "all":
        return "week"
    return options.time


@dataclass(frozen=True)
class SourceChoice:
    name: str
    reason: str


def credentials(env: Mapping[str, str]) -> dict[str, str] | None:
    """praw keyword arguments from ``REDDIT_*`` environment variables, or ``None`` when unset."""
    cid, secret = env.get("REDDIT_CLIENT_ID"), env.get("REDDIT_CLIENT_SECRET")
    if not (cid and secret):
        return None
    return {"client_id": cid, "client_secret": secret,
            "user_agent": env.get("REDDIT_USER_AGENT") or DEFAULT_USER_AGENT}


def choose(options: SourceOptions, env: Mapping[str, str]) -> SourceChoice:
    """Which source serves this run, and why (printed to the user)."""
    if options.dumps:
        return SourceChoice("dump", f"reading {len(options.dumps)} local dump file(s) given with --dump")
    if options.after is not None or options.before is not None:
        return SourceChoice("arctic-shift", "--after/--before reach past what Reddit listings return; "
                            f"using the Arctic Shift archive ({options.arctic_url})")
    if options.site or credentials(env):
        how = f"praw.ini site {options.site!r}" if options.site else "REDDIT_CLIENT_ID/REDDIT_CLIENT_SECRET"
        return SourceChoice("praw", f"Reddit API through praw with credentials from {how}")
    period = archive_period(options)
    span = "all time" if period == "all" else f"the last {period}"
    ranked = "newest first" if options.sort == "new" else f"ranked by score ('{options.sort}' approximated)"
    return SourceChoice("arctic-shift", "no Reddit credentials (set REDDIT_CLIENT_ID, "
                        "REDDIT_CLIENT_SECRET, REDDIT_USER_AGENT or use --site; a new app needs "
                        "Reddit's approval since 2025-11); using the public "
                        f"Arctic Shift archive for {span}, {ranked}")


def submission_dict(submission: Any) -> dict[str, Any]:
    """A praw Submission as the plain JSON dict the other sources give."""
    data = {k: v for k, v in vars(submission).items() if not k.startswith("_")}
    data["subreddit"] = str(getattr(submission.subreddit, "display_name", submission.subreddit))
    author = getattr(submission, "author", None)
    data["author"] = getattr(author, "name", None) if author is not None else None
    return data


def dump_posts(paths: tuple[Path, ...], subreddits: tuple[str, ...], after: int | None,
               before: int | None) -> Iterator[dict[str, Any]]:
    """Posts of ``subreddits`` in the window from zstd NDJSON dump files, streamed."""
    import zstandard

    wanted = {s.lower() for s in subreddits}
    for path in paths:
        if not path.is_file():
            raise InputError(f"dump file {path} does not exist")
        bad = 0
        with open(path, "rb") as fh:
            reader = zstandard.ZstdDecompressor(max_window_size=DUMP_WINDOW).stream_reader(fh)
            text = io.TextIOWrapper(reader, encoding="utf-8", errors="replace")
            try:
                for line in text:
                    low = line.lower()
                    if not any(name in low for name in wanted):
                        continue
                    try:
                        post = json.loads(line)
                    except (json.JSONDecodeError, RecursionError):
                        post = None
                    if not isinstance(post, dict):  # not JSON, nested too deep, not an object
                        bad += 1
                        continue
                    if str(post.get("subreddit", "")).lower() in wanted and _in_window(post, after, before):
                        yield post
            except zstandard.ZstdError as exc:
                raise InputError(f"{path} is not a readable zstd dump: {exc}") from exc
        if bad:
            log.warning("%s: %d malformed lines skipped", path, bad)


def created(post: dict[str, Any]) -> int | None:
    """A post's ``created_utc`` as whole seconds, or ``None`` when it is missing or not a finite number
    (``"nan"``, ``1e400`` and nested objects included)."""
    return finite_int(post.get("created_utc"))


def _in_window(post: dict[str, Any], after: int | None, before: int | None) -> bool:
    when = created(post)
    if when is None:
        return after is None and before is None
    return (after is None or when >= after) and (before is None or when < before)


def arctic_posts(fetcher: Fetcher, base_url: str, subreddit: str, after: int | None,
                 before: int | None, newest_first: bool = False,
                 limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Posts of one subreddit in a window from the Arctic Shift API, paged by ``created_utc``.

    Paging stops at the end of the window, once ``limit`` posts were given, and when a page would not
    move the cursor (a server that repeats one ``created_utc`` with fresh ids would page forever).
    """
    url = base_url.rstrip("/") + "/api/posts/search"
    seen: set[str] = set()
    given = 0
    # The bounds sent are widened by a second and the window is enforced here, so it does not matter
    # whether the API treats them as inclusive; a post repeated across pages is dropped by id.
    low = after - 1 if after is not None else None
    high = before
    while limit is None or given < limit:
        params: dict[str, Any] = {"subreddit": subreddit, "limit": ARCTIC_PAGE,
                                  "sort": "desc" if newest_first else "asc"}
        params.update({k: v for k, v in (("after", low), ("before", high)) if v is not None})
        page = fetcher.get_json(url, params)
        if not isinstance(page, dict) or not isinstance(page.get("data"), list):
            raise NetworkError(f"{url} answered without a 'data' list: {str(page)[:200]}")
        posts = _posts(page["data"], url)
        fresh = [p for p in posts if p.get("id") not in seen]
        for post in fresh:
            seen.add(post.get("id"))
            if _in_window(post, after, before):
                yield post
                given += 1
                if limit is not None and given >= limit:
                    return
        if not fresh or len(page["data"]) < ARCTIC_PAGE:
            return
        edge = [t for t in (created(p) for p in fresh) if t is not None]
        moved = _next_cursor(edge, low, high, newest_first)
        if moved is None:
            log.warning("%s: r/%s: the next page would start where this one did (created_utc does not "
                        "advance); stopped paging", url, subreddit)
            return
        low, high = moved


def _posts(items: list[Any], url: str) -> list[dict[str, Any]]:
    """The posts of a page that are objects with a hashable ``id``; others are counted and dropped."""
    posts = [p for p in items if isinstance(p, dict) and isinstance(p.get("id"), str | int | None)]
    if len(posts) < len(items):
        log.warning("%s: %d items that are not posts skipped", url, len(items) - len(posts))
    return posts


def _next_cursor(edge: list[int], low: int | None, high: int | None,
                 newest_first: bool) -> tuple[int | None, int | None] | None:
    """The window of the next page, or ``None`` when it would not move (or leaves nothing)."""
    if not edge:
        return None
    if newest_first:
        new_high = min(edge) + 1
        if high is not None and new_high >= high:
            return None
        high = new_high
    else:
        new_low = max(edge) - 1
        if low is not None and new_low <= low:
            return None
        low = new_low
    if low is not None and high is not None and low + 1 >= high:
        return None  # the window is empty: nothing left to ask for
    return low, high


@dataclass
class PostStream:
    """The posts of one run, from the source ``choose`` picks; ``notes`` collects what to tell the user."""

    options: SourceOptions
    fetcher: Fetcher
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    notes: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # subreddits whose listing failed: the others go on

    def __post_init__(self) -> None:
        self.choice = choose(self.options, self.env)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Posts in source order, or ranked by score; ``top`` and ``limit`` count per subreddit."""
        opts = self.options
        ranked = opts.top or (self.choice.name == "arctic-shift" and opts.sort != "new"
                              and opts.after is None and opts.before is None)
        if not ranked:  # the limit is met as posts come: Arctic Shift pages no further than it
            limited = opts.limit and self.choice.name != "praw"  # praw applies the limit itself
            raw = self._raw(opts.limit)
            yield from _per_subreddit(raw, opts.limit) if limited else raw
            return
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for post in self._raw():
            groups[str(post.get("subreddit") or "")].append(post)
        keep = opts.top or opts.limit
        for name, group in groups.items():
            yield from (heapq.nlargest(keep, group, key=_score) if keep
                        else sorted(group, key=_score, reverse=True))
            if opts.top:
                self.notes.append(f"r/{name}: ranked {len(group)} posts of the window by score, kept "
                                  f"the top {min(opts.top, len(group))}")

    def _raw(self, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Posts in source order; ``limit`` (per subreddit) stops Arctic Shift's paging once met."""
        opts = self.options
        if self.choice.name == "dump":
            yield from dump_posts(opts.dumps, opts.subreddits, opts.after, opts.before)
        elif self.choice.name == "praw":
            for name in opts.subreddits:
                yield from self._each(name, self._praw(name))
        else:
            after, before = opts.after, opts.before
            span = TIMES[archive_period(opts)]
            if after is None and before is None and span:
                after = int(time.time()) - span
            for name in opts.subreddits:
                yield from self._each(name, arctic_posts(self.fetcher, opts.arctic_url, name, after, before,
                                                         newest_first=opts.sort == "new", limit=limit))

    def _each(self, name: str, posts: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """The posts of one subreddit; when its API fails, the failure is recorded in ``failed`` (one
        line, secrets redacted) and the next subreddit goes on."""
        try:
            yield from posts
        except NetworkError as exc:
            why = redact(" ".join(str(exc).split()))
            self.failed.append(f"r/{name}: {why}")
            log.warning("r/%s: listing failed: %s", name, why)

    def _praw(self, name: str) -> Iterator[dict[str, Any]]:
        import praw
        import prawcore

        opts = self.options
        # A praw.ini site brings its own credentials; otherwise they come from REDDIT_* variables.
        found = {} if opts.site else credentials(self.env) or {}
        kwargs: dict[str, Any] = {**found, "check_for_updates": False, "check_for_async": False}
        if opts.oauth_url:
            kwargs["oauth_url"] = opts.oauth_url
        if opts.reddit_url:
            kwargs["reddit_url"] = opts.reddit_url
        try:  # praw parses Reddit's answers itself: a crafted one raises a shape error from inside it
            reddit = praw.Reddit(opts.site, **kwargs) if opts.site else praw.Reddit(**kwargs)
            subreddit = reddit.subreddit(name)
            listing = getattr(subreddit, opts.sort)
            timed = opts.sort in ("top", "controversial")
            gen = listing(limit=opts.limit, time_filter=opts.time) if timed else listing(limit=opts.limit)
            count = 0
            for submission in gen:
                count += 1
                yield submission_dict(submission)
        except configparser.NoSectionError as exc:
            raise UsageError(f"praw.ini has no site {opts.site!r} (looked in ./praw.ini and "
                             "~/.config/praw.ini)") from exc
        except praw.exceptions.MissingRequiredAttributeException as exc:
            raise UsageError(f"praw is missing credentials: {exc}") from exc
        except (prawcore.exceptions.Redirect, prawcore.exceptions.NotFound) as exc:
            raise InputError(f"r/{name} does not exist ({exc})") from exc
        except prawcore.exceptions.Forbidden as exc:
            raise InputError(f"r/{name} is private or banned ({exc})") from exc
        except prawcore.exceptions.OAuthException as exc:
            raise InputError(f"Reddit refused the credentials: {exc}") from exc
        except prawcore.exceptions.PrawcoreException as exc:
            raise NetworkError(f"Reddit API failed: {exc}") from exc
        except SHAPE_ERRORS as exc:
            raise NetworkError(f"Reddit answered r/{name}'s listing in a shape praw cannot read "
                               f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]})") from exc
        if opts.limit is None and count >= CAP_NOTICE:
            self.notes.append(f"r/{name}: the {opts.sort} listing ended after {count} posts; Reddit caps "
                              f"listings near {LISTING_CAP}. Use --after/--before (Arctic Shift) or --dump "
                              "for more")


def _score(post: dict[str, Any]) -> int:
    return finite_int(post.get("score")) or 0


def _per_subreddit(posts: Iterator[dict[str, Any]], n: int) -> Iterator[dict[str, Any]]:
    """The first ``n`` posts of each subreddit."""
    taken: Counter[str] = Counter()
    for post in posts:
        name = str(post.get("subreddit") or "").lower()
        if taken[name] < n:
            taken[name] += 1
            yield post


def parse_when(text: str) -> int:
    """``2020-07-01``, ``2020-07-01T12:00``, an ISO time or Unix seconds -> Unix seconds (UTC)."""
    from datetime import UTC, datetime

    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"{text!r} is not a date: use YYYY-MM-DD, an ISO time or Unix seconds") from exc
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp())


def subreddit_name(text: str) -> str:
    """``r/Doom``, ``/r/Doom/`` or ``Doom`` -> ``Doom``."""
    name = text.strip().strip("/")
    name = name[2:] if name.lower().startswith("r/") else name
    if not name or not all(ch.isalnum() or ch == "_" for ch in name):
        raise UsageError(f"{text!r} is not a subreddit name")
    return name
