"""Where a decoding pass that starts mid-video seeks to, so that decoding begins at or before its first
frame (``harvest frames --start``, and a resume after a kill).

A container's seek to a time should land on the last key frame at or before it. Not every demuxer
keeps that promise: libavformat's timestamp search in MPEG-TS lands on a *later* key frame (a seek to
a key frame's own time lands on the next one), so the frames in between were never decoded. The PyAV
decoder then lost them, and the ffmpeg pipe, which numbers the frames it receives from the first one,
paired every index with a later frame's pixels.

``seek_frame`` tries the seek before a pass trusts it: it seeks with PyAV (the same libavformat call as
ffmpeg's ``-ss``: a backward search for the time) and decodes one frame. Where that frame comes after
the frame sought, it tries one second earlier, then two, four..., and at the video's start it does
not seek at all. A seek to an earlier time never lands later (ffmpeg itself seeks a little earlier
than asked when a stream has B-frames), so the frame found is safe for both decoders.
"""

from __future__ import annotations

import logging
import math
from fractions import Fraction
from typing import Any

import av

from .probe import VideoInfo

log = logging.getLogger(__name__)


def seek_time(info: VideoInfo, index: int) -> int:
    """The time of frame ``index`` in microseconds from the video's start, rounded down (a seek lands
    at or before frame ``index``, and ffmpeg's accurate seek keeps it)."""
    return math.floor(info.time_of(index) * 1e6)


def landing(container: Any, stream: Any, info: VideoInfo, index: int) -> int | None:
    """Seek ``container`` to frame ``index``'s time; the frame index where decoding then begins
    (``None`` when no frame follows, or the frames there would not decode)."""
    base = container.start_time or 0
    container.seek(seek_time(info, index) + base, backward=True, any_frame=False)
    try:
        for frame in container.decode(stream):
            if frame.pts is not None:
                seconds = frame.pts * stream.time_base - Fraction(base, 10**6)
                return math.floor(seconds * info.fps + Fraction(1, 2))
    except av.error.FFmpegError as exc:
        log.debug("%s: seek to frame %d: %s", info.path, index, exc)
    return None


def picture_stream(container: Any) -> Any:
    """The video's first video stream that is a picture sequence (cover art is no video: probe skips
    it), or ``None``."""
    pictures = (s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic)
    return next(pictures, None)


def seek_frame(info: VideoInfo, start: int) -> int:
    """The frame to seek to for a pass starting at frame ``start``: ``start`` itself where the seek
    lands at or before it, else an earlier frame where it does (1, 2, 4... seconds back), else 0 (no
    seek: decode from the start, as for a file that will not open here)."""
    if start <= 0:
        return 0
    try:
        with av.open(str(info.path)) as container:
            stream = picture_stream(container)
            frame, back = start, Fraction(1)
            while stream is not None and frame > 0:
                landed = landing(container, stream, info, frame)
                if landed is not None and landed <= frame:
                    return frame
                log.debug("%s: a seek to frame %d lands at %s; trying earlier", info.path, frame, landed)
                frame = start - math.ceil(back * info.fps)
                back *= 2
    except av.error.FFmpegError as exc:
        log.debug("%s: %s", info.path, exc)
    return 0
