"""Video: probing, border detection, the one decoding pass, scene tracking, the frames collector and
its resume logic."""

from .collector import FrameOptions, FramesCollector, FramesOptions, harvest_video

__all__ = ["FrameOptions", "FramesCollector", "FramesOptions", "harvest_video"]
