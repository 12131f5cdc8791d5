"""DuckDuckGo images through the ``ddgs`` package (optional extra ``search``; no key).

``ddgs`` scrapes DuckDuckGo's (and others') result pages: it needs no key and may break whenever the
pages change. One call returns up to ``--limit`` results (``DDGS().images(query, safesearch=...,
max_results=...)``, each a dict with ``image``, ``url``, ``title``, ``source``, ``width``,
``height``). Any failure of the package (a rate limit, a timeout, a changed page) is one line naming
the engine, never a traceback. The search function can be injected (``EngineConfig.client``) because
``ddgs`` cannot be pointed at a local server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..defaults import SEARCH_ENGINES
from .engine import SAFE, Cursor, Engine, EngineError, Filters, Page, Result, as_int

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
        results = [r for r in map(_result, items) if r is not None]
        return Page(results, None)


def _result(item: dict[str, Any]) -> Result | None:
    if not isinstance(item, dict) or not item.get("image"):
        return None
    return Result(url=str(item["image"]), page_url=item.get("url"), title=item.get("title") or None,
                  provider=item.get("source") or None, width=as_int(item.get("width")),
                  height=as_int(item.get("height")))
