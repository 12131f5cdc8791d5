"""Where a decoding pass that starts mid-video seeks to, so that decoding begins at or before its first
frame (``harvest frames --start``, and a resume after a kill).

A container's seek to a time should land on the last key frame at or before it. Not every demuxer
keeps that promise: libavformat's timestamp search in MPEG-TS lands on a *later* key frame (a seek to
a key frame's own time lands on the next one), so the frames in between were never decoded. The PyAV
decoder then lost them, and the ffmpeg pipe, which numbers the frames it receives from the first one,
paired every index with a later frame's pixels.

``seek_frame`` tries the seek before a pass trusts it: it seeks with PyAV (the same libavformat call as
ffmpeg's ``-ss``: a backward search for the time) and decodes one frame. Where that frame comes after
the start, it tries one second earlier, then two, four..., and at the video's start it does not seek
at all. The PyAV decoder numbers frames by their times, so any landing at or before the start will
do. The ffmpeg pipe numbers frames by their order from its seek, so it needs a seek that lands at or
before the very frame sought (``exact``): in MPEG-TS that is only the video's start. ffmpeg's
``-ss`` seeks 3/23 s earlier than asked where a stream has B-frames, and an earlier time can land
*later* (in FLV a seek before the first frame lands on a key frame near the end), so an exact search
tries both times.
"""

from __future__ import annotations

import logging
import math
from fractions import Fraction
from typing import Any

import av

from .probe import VideoInfo

log = logging.getLogger(__name__)

# ffmpeg's -ss seeks 3/23 s before the time asked where a stream has B-frames and the container is not
# sought by presentation time (fftools' "dts heuristic"); the pipe decoder's seek must hold for both
FFMPEG_EARLY = (0, 3 * 10**6 // 23)


def seek_time(info: VideoInfo, index: int) -> int:
    """The time of frame ``index`` in microseconds from the video's start, rounded down (a seek lands
    at or before frame ``index``, and ffmpeg's accurate seek keeps it)."""
    return math.floor(info.time_of(index) * 1e6)


def slot_of(pts: int, time_base: Fraction, start: Fraction, fps: Fraction) -> int:
    """The frame index of a frame shown at ``pts`` (``time_base`` units) in a video whose first frame
    is at ``start`` seconds: its time in frame slots of ``1 / fps``, rounded half up (the rule of
    ffmpeg's ``fps`` filter, which the pipe decoder runs)."""
    return math.floor((pts * time_base - start) * fps + Fraction(1, 2))


def picture_stream(container: Any) -> Any:
    """The video's first video stream that is a picture sequence (cover art is no video: probe skips
    it), or ``None``."""
    pictures = (s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic)
    return next(pictures, None)


def seek_to(container: Any, info: VideoInfo, index: int, early: int) -> None:
    """Seek ``container`` to frame ``index``'s time less ``early`` microseconds: backward, to a key
    frame (the call ffmpeg's ``-ss`` makes). Raises PyAV's error where the seek fails."""
    at = seek_time(info, index) + (container.start_time or 0) - early
    container.seek(at, backward=True, any_frame=False)


def landing(container: Any, stream: Any, info: VideoInfo, index: int, early: int) -> int | None:
    """Seek ``container`` to frame ``index``'s time (``early`` microseconds before it); the frame
    index where decoding then begins (``None`` when the seek fails, no frame follows, or the frames
    there would not decode)."""
    try:  # a seek can fail (FLV refuses a time before its first frame): no landing to trust
        seek_to(container, info, index, early)
        frame = next(iter(container.decode(stream)), None)
    except av.error.FFmpegError:
        return None
    if frame is None or frame.pts is None:  # no time (a raw H.264 stream): the search backs off to 0
        return None
    base = Fraction(container.start_time or 0, 10**6)
    return slot_of(frame.pts, stream.time_base, base, info.fps)


def _search(container: Any, info: VideoInfo, start: int, exact: bool) -> tuple[int, list[str]]:
    stream = picture_stream(container)
    frame, back, tries = start, 1, []
    while stream is not None and frame > 0:
        earlies = FFMPEG_EARLY if exact else (0,)
        landed = [landing(container, stream, info, frame, early) for early in earlies]
        tries.append(f"frame {frame} lands at {' or '.join(map(str, landed))}")
        if all(at is not None and at <= (frame if exact else start) for at in landed):
            return frame, tries
        frame, back = start - math.ceil(back * info.fps), back * 2
    return 0, tries


def seek_frame(info: VideoInfo, start: int, *, exact: bool) -> int:
    """The frame to seek to for a pass starting at frame ``start`` (0: decode from the video's start).

    It is ``start`` itself where the seek lands at or before it, else an earlier frame (1, 2, 4...
    seconds back) whose seek lands at or before ``start``; ``exact`` asks for a seek that lands at or
    before the frame sought itself (ffmpeg's accurate ``-ss``, which then drops the frames before that
    frame: the pipe numbers the frames it receives from there). A file that will not open here is
    decoded from its start (the decoder says what is wrong with it)."""
    if start <= 0:
        return 0
    try:
        with av.open(str(info.path)) as container:
            chosen, tries = _search(container, info, start, exact)
    except av.error.FFmpegError:
        chosen, tries = 0, ["the file would not open"]
    log.debug("%s: a pass from frame %d seeks to frame %d (%s)", info.path, start, chosen, "; ".join(tries))
    return chosen
