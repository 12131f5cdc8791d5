"""Wikimedia Commons (no key): files found by Commons' own search, with their licence and author.

``action=query&generator=search&gsrnamespace=6`` (the File namespace) with ``prop=imageinfo`` and
``iiprop=url|size|mime|extmetadata``, ``formatversion=2`` (``query.pages`` is a list, ordered by each
page's ``index``) and ``continue`` paging (the answer's ``continue`` object is sent back as is). The
licence is ``LicenseShortName``/``LicenseUrl`` and the author ``Artist`` from ``extmetadata`` (HTML,
stripped; its first link is the creator's page). Per Wikimedia's API etiquette, requests go one at a
time (pages are listed sequentially) with a descriptive User-Agent (``--user-agent``). Commons' search
cannot filter by licence, date or safety.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..defaults import SEARCH_ENGINES
from .engine import Cursor, Engine, EngineError, Filters, Page, Result, as_int, normalize_license, strip_html

PAGE = 50


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
            "LicenseShortName|LicenseUrl|Artist|ImageDescription|ObjectName", **(cursor or {})}
        data = self.call("/w/api.php", params)
        if not isinstance(data, dict):
            raise EngineError(f"wikimedia answered something other than an object for {query!r}")
        if "error" in data:
            err = data["error"]
            raise EngineError(f"wikimedia: {err.get('code')}: {err.get('info')}" if isinstance(err, dict)
                              else f"wikimedia: {err}")
        pages = (data.get("query") or {}).get("pages") or []
        if not isinstance(pages, list):
            raise EngineError("wikimedia answered query.pages as an object: ask for formatversion=2")
        pages = sorted((p for p in pages if isinstance(p, dict)), key=lambda p: p.get("index", 0))
        results = [r for r in (_result(p) for p in pages) if r is not None]
        more = data.get("continue")
        return Page(results, dict(more) if isinstance(more, dict) and pages else None)


def _meta(ext: dict[str, Any], name: str) -> str | None:
    entry = ext.get(name)
    value = entry.get("value") if isinstance(entry, dict) else None
    return str(value) if value not in (None, "") else None


def _result(page: dict[str, Any]) -> Result | None:
    infos = page.get("imageinfo")
    if not isinstance(infos, list) or not infos or not isinstance(infos[0], dict) \
            or not infos[0].get("url"):
        return None
    info = infos[0]
    ext = info.get("extmetadata") if isinstance(info.get("extmetadata"), dict) else {}
    creator, creator_url = strip_html(_meta(ext, "Artist"))
    title = str(page.get("title") or "").removeprefix("File:") or None
    return Result(
        url=str(info["url"]), page_url=info.get("descriptionurl"), title=title, creator=creator,
        creator_url=creator_url, license=normalize_license(_meta(ext, "LicenseShortName")),
        license_url=_meta(ext, "LicenseUrl"), provider="wikimedia",
        width=as_int(info.get("width")), height=as_int(info.get("height")))
