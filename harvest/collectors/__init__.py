"""Collectors, one module per source, registered by name in ``COLLECTORS``."""

from __future__ import annotations

from .base import Collector
from .folder import FolderCollector, FolderOptions
from .frames import FrameOptions, FramesCollector, FramesOptions, harvest_video
from .reddit import RedditCollector, RedditOptions
from .reddit_video import RedditVideoFrames

COLLECTORS: dict[str, type[Collector]] = {
    FolderCollector.name: FolderCollector,
    FramesCollector.name: FramesCollector,
    RedditCollector.name: RedditCollector,
}

__all__ = ["COLLECTORS", "Collector", "FolderCollector", "FolderOptions", "FrameOptions",
           "FramesCollector", "FramesOptions", "RedditCollector", "RedditOptions", "RedditVideoFrames",
           "harvest_video"]
