"""Finished query pages, so that a rerun lists only what it has not listed yet.

A page whose results are all rows is marked in the manifest's archive (:mod:`manifests.archive`,
collector ``search-pages``) through the sink, which writes the mark only once those rows are merged
into the manifest. The key is the engine and the query, the variant the filters, and the info holds
the cursor that asked for the page, how many of its results were taken and the next page's cursor;
each mark replaces the query's previous one. ``resume_point`` turns it into where the next run starts:
the next page, the rest of a page a ``--limit`` cut short, or nothing when the engine had no more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from manifests import RowSink
from manifests.archive import Archive

from .engine import Cursor, Listed

PAGES = "search-pages"


@dataclass(frozen=True)
class ResumePoint:
    """Where a query goes on: ``cursor`` (``None``: the first page), results to skip, next rank."""

    cursor: Cursor = None
    skip: int = 0
    rank: int = 1
    finished: bool = False  # the engine said there is nothing after the last page


def stream_key(engine: str, query: str) -> str:
    """How a query of an engine is named in the archive."""
    return f"{engine}\t{query}"


def resume_point(archive: Archive, engine: str, query: str, filters: str) -> ResumePoint:
    """Where ``query`` goes on after the pages earlier runs finished with the same filters."""
    entry = archive.entries(PAGES, filters).get(stream_key(engine, query))
    if not entry:
        return ResumePoint()
    done = entry["skip"] + entry["taken"]
    rank = entry["rank"] + entry["taken"]
    if done < entry["size"]:
        return ResumePoint(entry["cursor"], done, rank)
    if entry["next"] is None:
        return ResumePoint(None, 0, rank, finished=True)
    return ResumePoint(entry["next"], 0, rank)


def page_info(page: Listed) -> dict[str, Any]:
    """What the archive keeps about a finished page."""
    return {"cursor": page.cursor, "skip": page.skipped, "taken": len(page.results), "size": page.size,
            "next": page.next, "rank": page.rank, "capped": page.capped}


def mark_page(sink: RowSink, engine: str, query: str, filters: str, page: Listed) -> None:
    """Mark a page finished; the sink stores the mark once the rows added before it are merged."""
    sink.mark(PAGES, stream_key(engine, query), filters, page_info(page))
