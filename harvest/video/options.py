"""The typed options of ``harvest frames`` (and of ``harvest reddit --video-frames``).

Both dataclasses check themselves when they are made, so a Python caller gets the same
:class:`~manifests.UsageError` a command line does: ``FrameOptions(every=24, every_seconds=2)``
raises, it is not silently read as one of the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from manifests import InputError, UsageError
from manifests.executor import ExecutorSpec
from manifests.store import Limits

from ..defaults import (
    DEFAULT_ADAPTIVE_THRESHOLD,
    DEFAULT_BLACK_GAP,
    DEFAULT_CROP,
    DEFAULT_DETECTOR,
    DEFAULT_FRAME_FORMAT,
    DEFAULT_FRAME_QUALITY,
    DEFAULT_MIN_SCENE_LEN,
    DEFAULT_SCENE_THRESHOLD,
)
from .decode import Selection
from .probe import CropBox
from .scenelist import scene_length

FORMATS = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
SAMPLINGS = ("exact", "reference", "keyframes")
# The decoder of software decoding, chosen by CPU seconds on three kinds of 1080p footage
# (bench/sampling.py, BENCHMARKS.md); the ffmpeg pipe stays for --hwaccel.
DEFAULT_DECODER = "pyav"


@dataclass(frozen=True)
class FrameOptions:
    """How frames are taken from one video.

    Attributes:
        every: keep frames 0, N, 2N, ... (frame index); default 48 when neither is given.
        every_seconds: keep the first frame of every S-second slot instead.
        start, end: seconds; only frames in [start, end) are considered.
        crop: ``auto`` (bars and edge lines), ``none``, or a box ``W:H:X:Y``.
        size: output ``(width, height)``; max_side: longest side at most this (aspect kept).
        format: jpg, png or webp; quality: 1-100 for jpg and webp.
        keep_dark: keep near-black and near-uniform frames.
        scene_threshold: content change (0-255 HSV scale) that makes a cut; black_gap: seconds of
            black after which the next picture starts a new scene.
        min_scene_len: a scene lasts at least this long: frames (``15``) or seconds (``0.6s``).
        detector: ``content`` or ``adaptive`` (PySceneDetect's ``detect-adaptive``); adaptive_threshold:
            its ratio of a frame's score to the average score around it.
        frames_per_scene: keep N evenly spaced frames of every scene instead of every Nth frame (a
            first pass finds the scenes, a second takes the frames).
        hwaccel: ffmpeg's ``-hwaccel`` for the decoding pass: ``none`` (software), ``auto`` (a hardware
            decoder when one works, else software) or a method ``ffmpeg -hwaccels`` lists (``cuda``,
            ``vaapi``). Decoding is bit-exact either way, so it is not part of ``sampling``.
        sampling: which frames are decoded: ``exact`` (all), ``reference`` (reference frames only: a
            kept frame is the decoded frame nearest to the one asked for, ``frame`` says which) or
            ``keyframes`` (key frames only, the same way); scenes are found on the frames decoded.
        decoder: ``auto`` (PyAV in-process; the ffmpeg pipe with ``hwaccel``), ``pyav`` or ``ffmpeg``
            (the pipe, ``exact`` only). The same frames, crops and scenes either way; pixels may
            differ by a level where the two scalers' versions round differently.
    """

    every: int | None = None
    every_seconds: float | None = None
    start: float | None = None
    end: float | None = None
    crop: str = DEFAULT_CROP
    size: tuple[int, int] | None = None
    max_side: int | None = None
    format: str = DEFAULT_FRAME_FORMAT
    quality: int = DEFAULT_FRAME_QUALITY
    keep_dark: bool = False
    scene_threshold: float = DEFAULT_SCENE_THRESHOLD
    black_gap: float = DEFAULT_BLACK_GAP
    limits: Limits = Limits()
    min_scene_len: str = DEFAULT_MIN_SCENE_LEN
    detector: str = DEFAULT_DETECTOR
    adaptive_threshold: float = DEFAULT_ADAPTIVE_THRESHOLD
    frames_per_scene: int | None = None
    hwaccel: str = "none"
    sampling_policy: str = "exact"
    decoder: str = "auto"

    def __post_init__(self) -> None:
        if self.every is not None and self.every_seconds is not None:
            raise UsageError("give --every or --every-seconds, not both")
        if self.every is not None and self.every < 1:
            raise UsageError(f"--every must be 1 or more, not {self.every}")
        if self.every_seconds is not None and not self.every_seconds > 0:
            raise UsageError(f"--every-seconds must be above 0, not {self.every_seconds}")
        if self.start is not None and self.start < 0:
            raise UsageError(f"--start must be 0 or more, not {self.start}")
        if self.end is not None and self.end <= (self.start or 0):
            raise UsageError(f"--end {self.end} must be after --start {self.start or 0}")
        if self.crop not in ("auto", "none"):
            try:
                CropBox.parse(self.crop)
            except ValueError:
                raise UsageError(f"--crop {self.crop!r} is not auto, none or W:H:X:Y "
                                 "(W and H above 0)") from None
        self._check_size()
        if self.format not in FORMATS:
            raise UsageError(f"--format {self.format!r}: use jpg, png or webp")
        object.__setattr__(self, "format", self.format.replace("jpeg", "jpg"))
        if not 1 <= self.quality <= 100:
            raise UsageError(f"--quality must be 1 to 100, not {self.quality}")
        if self.scene_threshold < 0.1 or self.black_gap < 0:
            raise UsageError("--scene-threshold must be 0.1 or more and --black-gap 0 or more")
        self._check_scenes()
        if not self.hwaccel or not self.hwaccel.replace("_", "").isalnum():
            raise UsageError(f"--hwaccel {self.hwaccel!r}: use none, auto or a method of ffmpeg -hwaccels")
        self._check_decoder()

    def _check_decoder(self) -> None:
        if self.sampling_policy not in SAMPLINGS:
            raise UsageError(f"--sampling {self.sampling_policy!r}: use exact, reference or keyframes")
        if self.decoder not in ("auto", "pyav", "ffmpeg"):
            raise UsageError(f"--decoder {self.decoder!r}: use auto, pyav or ffmpeg")
        if self.sampling_policy != "exact" and (self.decoder == "ffmpeg" or self.hwaccel != "none"):
            raise UsageError(f"--sampling {self.sampling_policy} decodes in-process (PyAV): not with "
                             "--decoder ffmpeg or --hwaccel")
        if self.decoder == "pyav" and self.hwaccel != "none":
            raise UsageError("--hwaccel runs the ffmpeg decoder: not with --decoder pyav")

    @property
    def resolved_decoder(self) -> str:
        """The decoder that runs: the ffmpeg pipe for ``hwaccel``, else ``decoder`` or the default."""
        if self.hwaccel != "none":
            return "ffmpeg"
        return DEFAULT_DECODER if self.decoder == "auto" else self.decoder

    def _check_scenes(self) -> None:
        if self.frames_per_scene is not None and (self.every is not None or self.every_seconds is not None):
            raise UsageError("give --frames-per-scene or --every/--every-seconds, not both")
        if self.frames_per_scene is not None and self.frames_per_scene < 1:
            raise UsageError(f"--frames-per-scene must be 1 or more, not {self.frames_per_scene}")
        if self.detector not in ("content", "adaptive"):
            raise UsageError(f"--detector {self.detector!r}: use content or adaptive")
        if self.adaptive_threshold < 0.1:
            raise UsageError(f"--adaptive-threshold must be 0.1 or more, not {self.adaptive_threshold}")
        try:
            scene_length(self.min_scene_len, Fraction(25))
        except InputError as exc:
            raise UsageError(str(exc)) from None

    def _check_size(self) -> None:
        if self.size is not None and self.max_side is not None:
            raise UsageError("give --size or --max-side, not both")
        if self.size is not None and (len(self.size) != 2 or min(self.size) < 2):
            raise UsageError(f"--size {self.size} must be two numbers of 2 or more (WIDTHxHEIGHT)")
        if self.max_side is not None and self.max_side < 2:
            raise UsageError(f"--max-side must be 2 or more, not {self.max_side}")

    @property
    def selection(self) -> Selection:
        if self.frames_per_scene:  # the frames themselves are chosen once the scenes are known
            return Selection(frames=frozenset(), per_scene=self.frames_per_scene)
        if self.every_seconds:
            return Selection(seconds=self.every_seconds)
        return Selection(every=self.every or 48)

    def sampling(self) -> str:
        """The ``sampling`` column: everything that decides which bytes a frame row holds."""
        parts = [self.selection.key()]
        if self.sampling_policy != "exact":  # fewer frames decoded: other frames kept, other scenes
            parts.append(f"decode={self.sampling_policy}")
        if self.frames_per_scene:  # which frames are kept depends on where the scenes are
            cut_at = self.adaptive_threshold if self.detector == "adaptive" else self.scene_threshold
            parts.append(f"scenes={self.detector}@{cut_at:g},min_len={self.min_scene_len},"
                         f"black_gap={self.black_gap:g}")
        if self.start is not None:
            parts.append(f"start={self.start:g}")
        if self.end is not None:
            parts.append(f"end={self.end:g}")
        parts.append(f"crop={self.crop}")
        if self.size:
            parts.append(f"size={self.size[0]}x{self.size[1]}")
        if self.max_side:
            parts.append(f"max_side={self.max_side}")
        parts.append(f"{self.format}" + (f"@{self.quality}" if self.format != "png" else ""))
        return " ".join(parts)


@dataclass(frozen=True)
class FramesOptions:
    """Options of ``harvest frames``: the videos, how to take frames, a label, parallel workers."""

    videos: tuple[Path, ...]
    frames: FrameOptions = FrameOptions()
    label: str | None = None
    workers: int = 1
    scenes_csv: Path | None = None  # write the scene list (start/end frame and time of each) here
    executor: ExecutorSpec | None = None  # Dask: one video per task (harvest.video.remote)

    def __post_init__(self) -> None:
        object.__setattr__(self, "videos", tuple(Path(v) for v in self.videos))
        if not self.videos:
            raise UsageError("give at least one video")
        if self.workers < 1:
            raise UsageError(f"--workers must be 1 or more, not {self.workers}")
        if not isinstance(self.frames, FrameOptions):
            raise UsageError("frames must be a FrameOptions")
