"""Finished query pages, so that a rerun lists only what it has not listed yet.

Each page whose results are all in the manifest (flushed) is one JSON line in
``<manifest>.search.jsonl`` beside the manifest: engine, query, filters, the cursor that asked for
it, how many of its results were taken and the next page's cursor. ``resume_point`` turns the last
line of a query into where the next run starts: the next page, or the rest of a page a ``--limit``
cut short, or nothing when the engine had no more.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .engine import Cursor, Listed


def pages_path(manifest: str | os.PathLike[str]) -> Path:
    """Where the finished pages of a manifest's searches are recorded."""
    manifest = Path(manifest)
    return manifest.with_name(manifest.name + ".search.jsonl")


@dataclass(frozen=True)
class ResumePoint:
    """Where a query goes on: ``cursor`` (``None``: the first page), results to skip, next rank."""

    cursor: Cursor = None
    skip: int = 0
    rank: int = 1
    finished: bool = False  # the engine said there is nothing after the last page


def stream_key(engine: str, query: str, filters: str) -> str:
    return json.dumps([engine, query, filters])


class PageLog:
    """The finished pages of one manifest: read once at start, appended as pages finish."""

    def __init__(self, manifest: str | os.PathLike[str]) -> None:
        self.path = pages_path(manifest)
        self.last: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                    self.last[stream_key(entry["engine"], entry["query"], entry["filters"])] = entry
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue  # a torn last line from a killed run

    def resume_point(self, engine: str, query: str, filters: str) -> ResumePoint:
        entry = self.last.get(stream_key(engine, query, filters))
        if entry is None:
            return ResumePoint()
        done = entry["skip"] + entry["taken"]
        rank = entry["rank"] + entry["taken"]
        if done < entry["size"]:
            return ResumePoint(entry["cursor"], done, rank)
        if entry["next"] is None:
            return ResumePoint(None, 0, rank, finished=True)
        return ResumePoint(entry["next"], 0, rank)

    def record(self, engine: str, query: str, filters: str, page: Listed) -> None:
        """Append one finished page (its rows must already be in the manifest)."""
        entry = {"engine": engine, "query": query, "filters": filters, "cursor": page.cursor,
                 "skip": page.skipped, "taken": len(page.results), "size": page.size,
                 "next": page.next, "rank": page.rank, "capped": page.capped}
        self.last[stream_key(engine, query, filters)] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
