"""SerpApi (key in ``SERPAPI_KEY``): Google Images results, about 100 a page, paged with ``ijn``.

``GET /search.json?engine=google_images`` with ``q``, ``ijn`` (page number from 0), ``safe``
(``active`` or ``off``), ``tbs=cdr:1,cd_min:M/D/YYYY,cd_max:M/D/YYYY`` for a date window and
``api_key``. The answer's ``images_results[]`` hold ``position``, ``title``, ``link`` (the page),
``source``, ``original`` (the image) and ``original_width``/``original_height``; a query past its last
page answers ``error: "Google hasn't returned any results for this query."``, which ends the query.
Requests go through gleanset's fetcher (plain HTTP, not the ``serpapi`` client) so that retries, 429
waits and ``--engine-url`` work as for every engine. A result without ``original`` falls back to its
``thumbnail`` (Google's small copy); with neither it is a counted skip.

Google sued SerpApi on 2025-12-19 (DMCA, for scraping its results): the first use in a manifest says
so in one line, and the user decides.
"""

from __future__ import annotations

from typing import Any

from ..defaults import SEARCH_ENGINES
from .engine import DATES, SAFE, Cursor, Engine, EngineError, Filters, Page, Result, as_int, ladder, unusable

KEY = "SERPAPI_KEY"
_NO_MORE = "hasn't returned any results"


class SerpApiEngine(Engine):
    """Google Images through SerpApi, for hundreds of results per query."""

    name = "serpapi"
    base_url = "https://serpapi.com"
    keys = (KEY,)
    filters = frozenset({DATES, SAFE})
    page_size = 100
    first: Cursor = 0
    about = SEARCH_ENGINES["serpapi"]
    notice = ("serpapi: Google sued SerpApi on 2025-12-19 (DMCA) over scraping its results; you decide "
              "whether to use what it returns (said once per manifest)")

    def page(self, query: str, cursor: Cursor, filters: Filters, want: int) -> Page:
        params: dict[str, Any] = {"engine": "google_images", "q": query, "ijn": int(cursor),
                                  "api_key": self.key(KEY), "output": "json"}
        if filters.safe is not None:
            params["safe"] = "active" if filters.safe else "off"
        if filters.after or filters.before:
            low = f"{filters.after.month}/{filters.after.day}/{filters.after.year}" if filters.after else ""
            high = f"{filters.before.month}/{filters.before.day}/{filters.before.year}" \
                if filters.before else ""
            params["tbs"] = f"cdr:1,cd_min:{low},cd_max:{high}"
        data = self.call("/search.json", params)
        if not isinstance(data, dict):
            raise EngineError(f"serpapi answered something other than an object for {query!r}")
        if data.get("error"):
            if _NO_MORE in str(data["error"]):
                return Page([], None)
            raise EngineError(f"serpapi: {data['error']}")
        items = data.get("images_results") or []
        results = [_result(item) for item in items]
        return Page(results, int(cursor) + 1 if results else None)


def _result(item: Any) -> Result:
    found = ladder(item, ("original", "thumbnail"))
    if found is None:
        return unusable("serpapi sent neither original nor thumbnail", item)
    key, url = found
    original = key == "original"
    return Result(url=url, page_url=item.get("link"), title=item.get("title") or None,
                  provider=item.get("source") or None,
                  width=as_int(item.get("original_width")) if original else None,
                  height=as_int(item.get("original_height")) if original else None)
