"""The decoding pass as an ffmpeg process (``--decoder ffmpeg``, and ``--hwaccel``): select, crop, scale
and scene scoring in one ffmpeg run. Also the pass's plan and state, shared with the in-process PyAV
decoder (:mod:`harvest.video.avdecode`, the default; :mod:`harvest.video.decoders` picks one).

ffmpeg decodes the video once and splits it in two branches:

- every frame, cropped and shrunk to a thumbnail, streams out on stdout; a thread scores each against
  the previous one (:class:`harvest.video.scenes.SceneTracker`), so scenes are found over *all* frames;
- the frames to keep are chosen by ffmpeg's ``select`` on the frame index and scaled, and
  stream out on a second pipe as raw RGB, one at a time, to be stored as they come.

Both sides compute the same selection rule (``Selection``), so the k-th frame on the second pipe is
known to be frame ``Selection.kept(...)[k]`` without asking ffmpeg. That is checked when the pass
ends: ffmpeg must have sent exactly as many kept frames as the rule keeps among the frames it decoded
(``DecodeState.mismatch``), else the pass's indices cannot be trusted and the video fails. A third
thread drains stderr and counts decoding errors (a damaged stretch): ffmpeg goes on past them, and so
do we.
"""

from __future__ import annotations

import logging
import math
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import IO

import ffmpeg
import numpy as np

from .probe import CropBox, VideoInfo
from .scenes import SceneRules, SceneTracker
from .seek import seek_frame, seek_time

log = logging.getLogger(__name__)

THUMB_WIDTH = 96
THUMB_BATCH = 16  # thumbnails scored together
# What ffmpeg says when -hwaccel auto (or a method) finds no usable device: not damage in the video.
HWACCEL_NOISE = re.compile(r"AVHWDeviceContext|Device creation failed|hwaccel|Failed setup for format|"
                           r"libcuda|CUDA|VDPAU|VAAPI|X11 display|DRM|Vulkan|OpenCL|QSV|\bMFX\b",
                           re.IGNORECASE)
# Thumbnails are averaged over every pixel they cover (``area``). The cheaper scalers (``neighbor``,
# ``fast_bilinear``: 0.6-0.8 CPU-s less per 3,600 1080p frames) sample a few pixels, so fine texture
# under camera motion aliases into a new picture each frame: a pan over noise became one "scene" per
# frame with them (tests/harvest/test_scenes.py pins this).
THUMB_SCALER = "area"


@dataclass(frozen=True)
class Selection:
    """Which frames to keep: every ``every``-th frame, the first frame of each ``seconds`` slot, or
    the listed ``frames`` (``per_scene`` evenly spaced frames of each scene, found by a first pass)."""

    every: int | None = None
    seconds: float | None = None
    frames: frozenset[int] | None = None
    per_scene: int | None = None

    def _rate(self, fps: Fraction) -> float:
        return float(Fraction(self.seconds).limit_denominator(10**6) * fps)  # type: ignore[arg-type]

    def keeps(self, index: int, fps: Fraction) -> bool:
        """Whether frame ``index`` is kept (the same rule as ``expression``)."""
        if self.frames is not None:
            return index in self.frames
        if self.every:
            return index % self.every == 0
        rate = self._rate(fps)
        return index == 0 or math.floor(index / rate) > math.floor((index - 1) / rate)

    def expression(self, offset: int, fps: Fraction) -> str:
        """ffmpeg ``select`` expression; ``n + offset`` is the frame index in the whole video."""
        i = f"(n+{offset})"
        if self.frames is not None:
            return "+".join(f"eq(n,{f - offset})" for f in sorted(self.frames) if f >= offset) or "0"
        if self.every:
            return f"not(mod({i},{self.every}))"
        rate = repr(self._rate(fps))
        return f"eq({i},0)+gt(floor({i}/{rate}),floor(({i}-1)/{rate}))"

    def key(self) -> str:
        if self.per_scene:
            return f"frames_per_scene={self.per_scene}"
        return f"every={self.every}" if self.every else f"every_seconds={self.seconds:g}"


@dataclass(frozen=True)
class DecodePlan:
    """One decoding pass: frames ``start`` (inclusive) to ``end`` (exclusive), what to keep, how."""

    selection: Selection
    crop: CropBox
    out_size: tuple[int, int]
    start: int = 0
    end: int | None = None
    rules: SceneRules = SceneRules()
    first_scene: int = 0
    scan_only: bool = False  # score scenes only, keep no frame (the first pass of frames-per-scene)
    hwaccel: str = "none"  # ffmpeg -hwaccel for this pass (frames come back to memory for the filters)
    sampling: str = "exact"  # exact, reference or keyframes: which frames the decoder decodes
    decoder: str = "pyav"  # pyav (in-process, every policy) or ffmpeg (this module's pipe: exact only)


def thumb_size(box: CropBox) -> tuple[int, int]:
    """The scene thumbnails' size for frames cropped to ``box``: ``THUMB_WIDTH`` wide, even height."""
    return THUMB_WIDTH, max(2, round(THUMB_WIDTH * box.h / box.w / 2) * 2)


def kept_indices(plan: DecodePlan, fps: Fraction, stop: int | None = None) -> Iterator[int]:
    """Indices of the frames a pass keeps by its selection, in order (those below ``stop`` when given;
    without an end, an endless iterator)."""
    end = plan.end if stop is None else stop if plan.end is None else min(stop, plan.end)
    if plan.selection.frames is not None:
        yield from (i for i in sorted(plan.selection.frames) if i >= plan.start and (end is None or i < end))
        return
    index = plan.start
    while end is None or index < end:
        if plan.selection.keeps(index, fps):
            yield index
        index += 1


@dataclass
class DecodeState:
    """Shared between the threads of one pass: counts, scenes of kept frames, errors."""

    decoded: int = 0
    scenes: dict[int, int] = field(default_factory=dict)
    errors: list[tuple[int, str]] = field(default_factory=list)
    cuts: int = 0
    starts: list[int] = field(default_factory=list)  # frame index where each scene starts
    numbered: int = 0  # frames numbered by the scene tracker so far (it looks a few frames ahead)
    sent: int = 0  # kept frames ffmpeg sent on the second pipe (a partial one at the end counts)
    expected: int | None = None  # kept frames the selection keeps among those decoded (after finish)
    end: int = 0  # the frame index after the last frame the pass covered (after finish)

    def mismatch(self) -> str | None:
        """Why the kept frames cannot be matched to their indices, or ``None`` when they can: ffmpeg
        sent more or fewer kept frames than the selection keeps among the frames it decoded."""
        if self.expected is None or self.sent == self.expected:
            return None
        return (f"ffmpeg sent {self.sent} kept frames where the selection keeps {self.expected} of the "
                f"{self.decoded} frames decoded, so the frames cannot be matched to their indices")


def _read_frame(pipe: IO[bytes], shape: tuple[int, ...]) -> np.ndarray | None:
    """Read one raw frame straight into a new array, or ``None`` at the end of the stream."""
    frame = np.empty(shape, np.uint8)
    view, got = memoryview(frame).cast("B"), 0
    while got < frame.nbytes:
        n = pipe.readinto(view[got:])  # type: ignore[attr-defined]
        if not n:
            return None
        got += n
    return frame


class VideoDecoder:
    """Runs one ``DecodePlan`` over a video and yields ``(frame index, RGB array)`` of kept frames.

    Use as an iterator inside ``with``; ``state`` holds counts, the scene of each kept frame (ready once
    the thumbnail thread passed it; all of them after the iteration ends) and decoding errors.
    """

    def __init__(self, info: VideoInfo, plan: DecodePlan) -> None:
        self.info = info
        self.plan = plan
        self.state = DecodeState()
        self.thumb = thumb_size(plan.crop)
        self._proc: subprocess.Popen[bytes] | None = None
        self._threads: list[threading.Thread] = []
        self._origin: int | None = None

    def command(self, kept_fd: int) -> list[str]:
        """The ffmpeg command line of this pass."""
        plan, info = self.plan, self.info
        # Seek to a frame at or before the start whose seek lands at or before it (harvest.video.seek):
        # accurate seeking drops what precedes that frame, and trim what lies between it and the start.
        origin = self.origin()
        seek = {"ss": f"{seek_time(info, origin) / 1e6:.6f}"} if origin else {}
        if plan.hwaccel != "none":
            seek["hwaccel"] = plan.hwaccel
        source = ffmpeg.input(str(info.path), **seek)
        # Constant frame rate: frames a damaged stretch loses are filled in, so indices stay true.
        video = source.video.filter("fps", fps=str(info.fps))
        lead = {"start_frame": plan.start - origin} if plan.start > origin else {}
        if plan.end is not None:
            lead["end_frame"] = plan.end - origin
        if lead:
            video = video.trim(**lead)
        box = plan.crop
        if (box.w, box.h) != (info.width, info.height):
            video = video.crop(box.x, box.y, box.w, box.h)
        raw = {"format": "rawvideo", "pix_fmt": "rgb24", "fps_mode": "passthrough"}
        quiet = ("-nostdin", "-hide_banner", "-nostats", "-loglevel", "error")
        if plan.scan_only:
            thumbs = video.filter("scale", *self.thumb, flags=THUMB_SCALER)
            return thumbs.output("pipe:1", **raw).global_args(*quiet).compile()
        parts = video.split()
        thumbs = parts[0].filter("scale", *self.thumb, flags=THUMB_SCALER)
        kept = parts[1].filter("select", plan.selection.expression(plan.start, info.fps))
        if plan.out_size != (box.w, box.h):
            kept = kept.filter("scale", *plan.out_size)
        return (ffmpeg.merge_outputs(thumbs.output("pipe:1", flush_packets=1, **raw),
                                     kept.output(f"pipe:{kept_fd}", **raw))
                .global_args(*quiet).compile())

    def origin(self) -> int:
        """The frame this pass seeks to (0: none), found once (:func:`harvest.video.seek.seek_frame`)."""
        if self._origin is None:
            self._origin = seek_frame(self.info, self.plan.start, exact=True)
        return self._origin

    def kept_indices(self, stop: int | None = None) -> Iterator[int]:
        """Indices of the frames this pass keeps, in order (those below ``stop`` when given)."""
        return kept_indices(self.plan, self.info.fps, stop)

    def _thumbs(self, pipe: IO[bytes]) -> None:
        w, h = self.thumb
        tracker = SceneTracker(self.plan.rules, scene=self.plan.first_scene)
        start, selection, fps = self.plan.start, self.plan.selection, self.info.fps
        index = start

        def number(scenes: list[int]) -> None:
            nonlocal index
            for scene in scenes:
                if selection.keeps(index, fps):
                    self.state.scenes[index] = scene
                index += 1
            self.state.numbered = index - start

        while data := pipe.read(w * h * 3 * THUMB_BATCH):
            frames = np.frombuffer(data, np.uint8, len(data) // (w * h * 3) * w * h * 3)
            self.state.decoded += len(frames) // (w * h * 3)
            number(tracker.feed(frames.reshape(-1, h, w, 3)))
        number(tracker.finish())
        self.state.cuts = tracker.cuts
        self.state.starts = [start + p for p in tracker.starts] if self.state.decoded else []

    def _stderr(self, pipe: IO[bytes]) -> None:
        hardware = self.plan.hwaccel != "none"
        for line in iter(pipe.readline, b""):
            text = line.decode("utf-8", "replace").strip()
            if not text:
                continue
            if hardware and HWACCEL_NOISE.search(text):  # a device that is not there: ffmpeg goes on
                log.debug("ffmpeg hwaccel: %s", text)
                continue
            self.state.errors.append((self.plan.start + self.state.decoded, text))

    def __enter__(self) -> VideoDecoder:
        read_fd, write_fd = os.pipe()
        try:
            args = self.command(write_fd)
            log.debug("ffmpeg: %s", " ".join(args))
            self._proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, pass_fds=(write_fd,))
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        self._kept = os.fdopen(read_fd, "rb", buffering=0)
        for target, pipe in ((self._thumbs, self._proc.stdout), (self._stderr, self._proc.stderr)):
            thread = threading.Thread(target=target, args=(pipe,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        w, h = self.plan.out_size
        if self.plan.scan_only:
            return
        for index in self.kept_indices():
            frame = _read_frame(self._kept, (h, w, 3))
            if frame is None:
                return
            self.state.sent += 1
            yield index, frame

    def finish(self) -> int:
        """Wait for ffmpeg and the threads; return ffmpeg's exit status.

        Kept frames nobody asked for (more than the selection keeps) are drained and counted, and
        ``state.expected`` is set, so ``state.mismatch()`` says whether the pass can be trusted.
        """
        assert self._proc is not None
        rest = len(self._kept.read())  # drain: ffmpeg may still be writing
        code = self._proc.wait()
        for thread in self._threads:
            thread.join()
        if not self.plan.scan_only:
            w, h = self.plan.out_size
            self.state.sent += -(-rest // (w * h * 3))
            self.state.expected = sum(1 for _ in self.kept_indices(self.plan.start + self.state.decoded))
        self.state.end = self.plan.start + self.state.decoded
        return code

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None and self._proc.poll() is None and exc[0] is not None:
            self._proc.kill()
        if self._proc is not None:
            self._proc.wait()
        self._kept.close()
        for thread in self._threads:
            thread.join(timeout=5)
