"""DuckDuckGo images through the ``ddgs`` package (optional extra ``search``; no key).

``ddgs`` scrapes DuckDuckGo's (and others') result pages: it needs no key and may break whenever the
pages change. One call returns up to ``--limit`` results (``DDGS().images(query, safesearch=...,
max_results=...)``, each a dict with ``image``, ``url``, ``title``, ``source``, ``width``,
``height``). Any failure of the package (a rate limit, a timeout, a changed page) is one line naming
the engine, never a traceback. The search function can be injected (``EngineConfig.client``) because
``ddgs`` cannot be pointed at a local server. A result without ``image`` falls back to its
``thumbnail``; with neither it is a counted skip. ddgs describes itself as for educational purposes
only: the first use in a manifest says so in one line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..defaults import SEARCH_ENGINES
from .engine import SAFE, Cursor, Engine, EngineError, Filters, Page, Result, as_int, ladder, unusable

SearchFunction = Callable[..., list[dict[str, Any]]]


def _default_search(query: str, **kwargs: Any) -> list[dict[str, Any]]:
    try:
        from ddgs import DDGS
    except ImportError:
        raise EngineError("ddgs is not installed: pip install 'gleanset[search]'") from None
    return DDGS().images(query, **kwargs)


class DdgsEngine(Engine):
    """DuckDuckGo image search by scraping, through the ``ddgs`` package."""

    name = "ddgs"
    base_url = "https://duckduckgo.com"
    filters = frozenset({SAFE})
    page_size = 100
    about = SEARCH_ENGINES["ddgs"]
    notice = ("ddgs: it scrapes search engines' result pages and says it is for educational purposes "
              "only; their terms may forbid it (said once per manifest)")

    def page(self, query: str, cursor: Cursor, filters: Filters, want: int) -> Page:
        search: SearchFunction = self.config.client or _default_search
        safe = "moderate" if filters.safe is None else "on" if filters.safe else "off"
        try:
            items = search(query, safesearch=safe, max_results=max(1, want))
        except EngineError:
            raise
        except Exception as exc:  # ddgs raises its own exceptions and whatever its parsers hit
            text = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise EngineError(f"ddgs failed for {query!r} ({type(exc).__name__}: {text}); it "
                              "scrapes DuckDuckGo and may be rate limited or broken") from exc
        if not isinstance(items, list):
            raise EngineError(f"ddgs returned {type(items).__name__}, not a list, for {query!r}")
        results = [_result(item) for item in items]
        return Page(results, None)


def _result(item: Any) -> Result:
    found = ladder(item, ("image", "thumbnail"))
    if found is None:
        return unusable("ddgs gave neither image nor thumbnail", item)
    key, url = found
    full = key == "image"
    return Result(url=url, page_url=item.get("url"), title=item.get("title") or None,
                  provider=item.get("source") or None, width=as_int(item.get("width")) if full else None,
                  height=as_int(item.get("height")) if full else None)
