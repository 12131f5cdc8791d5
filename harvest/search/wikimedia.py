"""Wikimedia Commons (no key, a contact): files found by Commons' own search, with licence and author.

``action=query&generator=search&gsrnamespace=6`` (the File namespace) with ``prop=imageinfo`` and
``iiprop=url|size|mime|extmetadata``, ``formatversion=2`` (``query.pages`` is a list, ordered by each
page's ``index``) and ``continue`` paging (the answer's ``continue`` object is sent back as is). The
licence is ``LicenseShortName``/``LicenseUrl`` and the author ``Artist`` from ``extmetadata`` (HTML,
stripped; its first link is the creator's page). Commons' search cannot filter by licence, date or
safety.

Answers as Commons sends them: ``query.pages`` may also be an object keyed by page id (formatversion 1);
a batch without ``batchcomplete`` is not complete (a ``prop`` continuation such as ``||imageinfo`` is
pending): the next batches repeat its pages, some without ``imageinfo``, and are merged into it by page
id before any result is listed. A page that still has no ``imageinfo`` URL is a counted skip.

Etiquette (enforced since 2025): requests go one at a time with a User-Agent that names a contact
(``--contact EMAIL`` or ``GLEANSET_CONTACT``: :func:`contact_user_agent`); each call sends ``maxlag=5``,
and a ``maxlag`` error is retried after the lag Commons reports (at least 5 s, at most
``MAXLAG_WAIT`` s, ``MAXLAG_TRIES`` times); a 429 is waited out by the fetcher as its ``Retry-After`` says.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from ..defaults import SEARCH_ENGINES
from ..fetch import DEFAULT_USER_AGENT
from .engine import (
    Cursor,
    Engine,
    EngineError,
    Filters,
    Page,
    Result,
    as_int,
    normalize_license,
    strip_html,
    unusable,
)

log = logging.getLogger(__name__)

PAGE = 50
MAXLAG = 5  # seconds of replication lag past which Commons asks bots to wait
MAXLAG_WAIT = 60.0  # the longest wait one maxlag answer may ask for
MAXLAG_TRIES = 4  # answers in a row before the query fails
BATCHES = 20  # continuation batches merged into one page at most
CONTACT = "GLEANSET_CONTACT"


def contact_user_agent(contact: str) -> str:
    """A User-Agent that follows Wikimedia's policy: the tool, its version and how to reach its user."""
    tool = DEFAULT_USER_AGENT.split(" ", 1)[0].removeprefix("python:").replace(":", "/", 1)
    return f"{tool} ({contact.strip()}) python-requests"


def merge_pages(merged: dict[Any, dict[str, Any]], pages: Any) -> None:
    """Merge one batch's pages (a list, or an object keyed by page id) into ``merged`` by page id: a
    page repeated without ``imageinfo`` keeps the one it had; list fields are concatenated."""
    items = pages.values() if isinstance(pages, dict) else pages if isinstance(pages, list) else []
    for page in items:
        if not isinstance(page, dict):
            continue
        key = page.get("pageid", page.get("title"))
        have = merged.setdefault(key, {})
        for name, value in page.items():
            if isinstance(value, list) and isinstance(have.get(name), list):
                have[name] = have[name] + [v for v in value if v not in have[name]]
            elif name not in have or have[name] in (None, "", []):
                have[name] = value


class WikimediaEngine(Engine):
    """Wikimedia Commons' file search through the MediaWiki Action API."""

    name = "wikimedia"
    base_url = "https://commons.wikimedia.org"
    page_size = PAGE
    first: ClassVar[Cursor] = {}
    about = SEARCH_ENGINES["wikimedia"]

    def page(self, query: str, cursor: Cursor, filters: Filters, want: int) -> Page:
        params: dict[str, Any] = {
            "action": "query", "format": "json", "formatversion": "2", "generator": "search",
            "gsrsearch": query, "gsrnamespace": "6", "gsrlimit": str(PAGE), "prop": "imageinfo",
            "iiprop": "url|size|mime|extmetadata", "iiextmetadatafilter":
            "LicenseShortName|LicenseUrl|Artist|ImageDescription|ObjectName", "maxlag": str(MAXLAG)}
        merged: dict[Any, dict[str, Any]] = {}
        more: Any = dict(cursor or {})
        for _ in range(BATCHES):  # until the batch is complete: pages repeated by a prop continuation
            data = self._call({**params, **more}, query)
            merge_pages(merged, (data.get("query") or {}).get("pages") or [])
            more = data.get("continue") if isinstance(data.get("continue"), dict) else None
            if "batchcomplete" in data or not more:
                break
        else:
            log.warning("wikimedia: %r: %d continuation batches without batchcomplete; listing what "
                        "came", query, BATCHES)
        pages = sorted(merged.values(), key=lambda p: as_int(p.get("index")) or 0)
        results = [_result(p) for p in pages]
        return Page(results, dict(more) if more and pages else None)

    def _call(self, params: dict[str, Any], query: str) -> dict[str, Any]:
        """One API call; ``maxlag`` answers are waited out (bounded), other errors fail the query."""
        for _ in range(MAXLAG_TRIES):
            data = self.call("/w/api.php", params)
            if not isinstance(data, dict):
                raise EngineError(f"wikimedia answered something other than an object for {query!r}")
            err = data.get("error")
            if err is None:
                return data
            if isinstance(err, dict) and err.get("code") == "maxlag":
                wait = min(MAXLAG_WAIT, max(float(MAXLAG), float(as_int(err.get("lag")) or 0)))
                log.info("wikimedia: replication lag (%s); waiting %.0f s as it asks", err.get("info"),
                         wait)
                self.config.sleep(wait)
                continue
            raise EngineError(f"wikimedia: {err.get('code')}: {err.get('info')}" if isinstance(err, dict)
                              else f"wikimedia: {err}")
        raise EngineError(f"wikimedia: still lagged (maxlag) after {MAXLAG_TRIES} tries for {query!r}; "
                          "try again later")


def _meta(ext: dict[str, Any], name: str) -> str | None:
    entry = ext.get(name)
    value = entry.get("value") if isinstance(entry, dict) else None
    return str(value) if value not in (None, "") else None


def _result(page: dict[str, Any]) -> Result:
    infos = page.get("imageinfo")
    info = infos[0] if isinstance(infos, list) and infos and isinstance(infos[0], dict) else {}
    url = info.get("url")
    if not isinstance(url, str) or not url:
        return unusable(f"wikimedia sent no imageinfo url for {page.get('title') or page.get('pageid')}")
    ext = info.get("extmetadata") if isinstance(info.get("extmetadata"), dict) else {}
    creator, creator_url = strip_html(_meta(ext, "Artist"))
    title = str(page.get("title") or "").removeprefix("File:") or None
    return Result(
        url=url, page_url=info.get("descriptionurl"), title=title, creator=creator,
        creator_url=creator_url, license=normalize_license(_meta(ext, "LicenseShortName")),
        license_url=_meta(ext, "LicenseUrl"), provider="wikimedia",
        width=as_int(info.get("width")), height=as_int(info.get("height")))
