"""The collector registry: every source's collector by its ``harvest`` sub-command name.

Shared machinery lives at the package root (fetch, store, pattern, folder); each source family has its
own subpackage (``harvest.reddit``, ``harvest.video``, ``harvest.search``)."""

from __future__ import annotations

from .collector import Collector
from .folder import FolderCollector, FolderOptions
from .reddit import RedditCollector, RedditOptions, RedditVideoFrames
from .search import SearchCollector, SearchOptions
from .video import FrameOptions, FramesCollector, FramesOptions, harvest_video

COLLECTORS: dict[str, type[Collector]] = {
    FolderCollector.name: FolderCollector,
    FramesCollector.name: FramesCollector,
    RedditCollector.name: RedditCollector,
    SearchCollector.name: SearchCollector,
}

__all__ = ["COLLECTORS", "Collector", "FolderCollector", "FolderOptions", "FrameOptions",
           "FramesCollector", "FramesOptions", "RedditCollector", "RedditOptions", "RedditVideoFrames",
           "SearchCollector", "SearchOptions", "harvest_video"]
