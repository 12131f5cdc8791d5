"""Reddit: listing sources (praw, Arctic Shift, dump files), media resolution, placeholders, the
collector and the v.redd.it adapter that hands videos to :mod:`harvest.video`."""

from .collector import RedditCollector, RedditOptions
from .video import RedditVideoFrames

__all__ = ["RedditCollector", "RedditOptions", "RedditVideoFrames"]
