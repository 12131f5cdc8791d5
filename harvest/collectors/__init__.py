"""Collectors, one module per source, registered by name in ``COLLECTORS``."""

from __future__ import annotations

from .base import Collector
from .folder import FolderCollector, FolderOptions
from .reddit import RedditCollector, RedditOptions

COLLECTORS: dict[str, type[Collector]] = {
    FolderCollector.name: FolderCollector,
    RedditCollector.name: RedditCollector,
}

__all__ = ["COLLECTORS", "Collector", "FolderCollector", "FolderOptions", "RedditCollector",
           "RedditOptions"]
