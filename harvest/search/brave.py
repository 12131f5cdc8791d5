"""Brave Search (subscription token in ``BRAVE_API_KEY``): the web's images, one page per query.

``GET /res/v1/images/search`` with ``q``, ``count`` (at most 200, the API's maximum; image search
has no offset, so a query gives one page) and ``safesearch`` (``strict`` or ``off``), the token in
the ``X-Subscription-Token`` header. The answer's ``results[]`` hold ``title``, ``url`` (the page),
``source`` and ``properties.url`` (the image) with ``properties.width``/``height`` when known. Brave
names no creator or licence: rows fall back to the page's domain as their group. A result without
``properties.url`` falls back to its ``thumbnail.src`` (Brave's resized copy); with neither it is a
counted skip.
"""

from __future__ import annotations

from typing import Any

from ..defaults import SEARCH_ENGINES
from .engine import SAFE, Cursor, Engine, EngineError, Filters, Page, Result, as_int, unusable

KEY = "BRAVE_API_KEY"
MAX_COUNT = 200


class BraveEngine(Engine):
    """Brave's image search API."""

    name = "brave"
    base_url = "https://api.search.brave.com"
    keys = (KEY,)
    filters = frozenset({SAFE})
    page_size = MAX_COUNT
    depth_cap = MAX_COUNT
    api_interval = 1.0  # the free plan's 1 request per second
    about = SEARCH_ENGINES["brave"]

    def page(self, query: str, cursor: Cursor, filters: Filters, want: int) -> Page:
        params: dict[str, Any] = {"q": query, "count": min(MAX_COUNT, max(1, want)),
                                  "safesearch": "off" if filters.safe is False else "strict"}
        headers = {"X-Subscription-Token": self.key(KEY), "Accept": "application/json"}
        data = self.call("/res/v1/images/search", params, headers)
        if not isinstance(data, dict) or not isinstance(data.get("results", []), list):
            raise EngineError(f"brave answered without a results list for {query!r}")
        results = [_result(item) for item in data.get("results") or []]
        return Page(results, None)


def _result(item: Any) -> Result:
    props = item.get("properties") if isinstance(item, dict) else None
    thumb = item.get("thumbnail") if isinstance(item, dict) else None
    for size in (props, thumb):  # the image, then Brave's thumbnail of it
        url = (size.get("url") or size.get("src")) if isinstance(size, dict) else None
        if isinstance(url, str) and url:
            return Result(url=url, page_url=item.get("url"), title=item.get("title") or None,
                          provider="brave", width=as_int(size.get("width")),
                          height=as_int(size.get("height")))
    return unusable("brave sent neither properties.url nor thumbnail.src", item)
