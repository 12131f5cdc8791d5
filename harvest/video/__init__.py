"""Video: probing, border detection, the one decoding pass, scene tracking, the per-video pipeline,
the frames collector and its resume logic."""

from .collector import FramesCollector
from .options import FrameOptions, FramesOptions
from .pipeline import harvest_video

__all__ = ["FrameOptions", "FramesCollector", "FramesOptions", "harvest_video"]
