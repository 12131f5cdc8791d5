"""Video probing and border detection with ffmpeg (through ffmpeg-python, over the real ffmpeg).

- ``require_ffmpeg`` raises ``MissingToolError`` (with how to install it) when ffmpeg is absent.
- ``probe`` reads a video's size, frame rate and length, or raises ``VideoError`` with a status and a
  one-line reason: missing file, zero-length file, not a video, audio-only file.
- ``detect_crop`` finds the box to keep: letterbox/pillarbox bars by ffmpeg's ``cropdetect`` over
  frames spread across the whole video (about a dozen key frames, picked from the packet list and
  decoded alone, or one key frame after each of a dozen seeks in long videos, so it costs little),
  combined per edge so dark scenes and fades cannot decide alone; then thin edge rows that
  ``cropdetect`` cannot see (:mod:`harvest.video.edges`): near-constant lines and dimmed or
  brightened copies of the picture.

The decoding pass itself lives in :mod:`harvest.video.decode`.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg
import numpy as np

from manifests import MissingToolError, UsageError, schema

from .edges import CROPDETECT_LIMIT, EDGE_QUANTILE, edge_lines
from .scenes import dark_reason

log = logging.getLogger(__name__)

INSTALL_HINT = ("ffmpeg is not installed: install it with 'sudo apt-get install ffmpeg' (Debian/Ubuntu), "
                "'brew install ffmpeg' (macOS) or 'conda install -c conda-forge ffmpeg'")
CROP_SAMPLES = 12
SAMPLE_BUDGET = 192 << 20  # bytes of RGB the crop samples may hold at once: fewer samples of huge frames
MIN_SAMPLES = 4
LONG_VIDEO = 600.0  # seconds; longer videos are sampled by seeking instead of decoding all key frames
# Decoders that honour ``skip_frame=nokey`` (others decode every frame and select among all of them)
KEY_FRAME_CODECS = frozenset({"h264", "hevc"})
_CROPDETECT = re.compile(r"x1:(-?\d+) x2:(-?\d+) y1:(-?\d+) y2:(-?\d+)")


class VideoError(Exception):
    """One video cannot be used; ``status`` is the manifest status, the message one line."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class VideoInfo:
    """What ``probe`` learned about a video's first video stream."""

    path: Path
    width: int
    height: int
    fps: Fraction
    frames: int | None
    duration: float | None
    codec: str
    rotation: int = 0  # degrees clockwise the frames are turned to be upright (0, 90, 180, 270)

    def frame_at(self, seconds: float) -> int:
        """Index of the first frame at or after ``seconds``."""
        return int(-(-Fraction(seconds).limit_denominator(10**6) * self.fps // 1))

    def time_of(self, index: int) -> float:
        """Time of frame ``index`` in seconds (constant frame rate)."""
        return float(index / self.fps)


@dataclass(frozen=True)
class CropBox:
    """A crop rectangle in pixels, ``W:H:X:Y`` like ffmpeg's crop filter."""

    w: int
    h: int
    x: int = 0
    y: int = 0

    def __str__(self) -> str:
        return f"{self.w}:{self.h}:{self.x}:{self.y}"

    @classmethod
    def parse(cls, text: str) -> CropBox:
        """Parse ``W:H:X:Y`` (X and Y default to 0)."""
        parts = [int(p) for p in text.split(":")]
        if len(parts) not in (2, 4) or min(parts) < 0 or parts[0] == 0 or parts[1] == 0:
            raise ValueError(f"crop box {text!r} is not W:H:X:Y")
        return cls(*parts)

    def fits(self, width: int, height: int) -> bool:
        return self.x + self.w <= width and self.y + self.h <= height


@dataclass
class CropReport:
    """The crop box chosen and why: bars found by cropdetect and lines found along the edges."""

    box: CropBox
    bars: dict[str, int] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    samples: int = 0
    why: dict[str, str] = field(default_factory=dict)

    def details(self) -> dict[str, Any]:
        """What was cut and why, for the lineage log."""
        return {"crop": str(self.box), "bars": self.bars, "lines": self.lines, "samples": self.samples,
                "cut_why": self.why}


def require_ffmpeg() -> None:
    """Raise ``MissingToolError`` unless ffmpeg and ffprobe are on the PATH."""
    missing = [tool for tool in ("ffmpeg", "ffprobe") if shutil.which(tool) is None]
    if missing:
        raise MissingToolError(INSTALL_HINT if "ffmpeg" in missing else
                               INSTALL_HINT.replace("ffmpeg is not", "ffprobe is not"))


@functools.cache
def hwaccels() -> frozenset[str]:
    """The hardware decoding methods this ffmpeg was built with (``ffmpeg -hwaccels``)."""
    try:
        out = subprocess.run(["ffmpeg", "-hide_banner", "-hwaccels"], capture_output=True, text=True,
                             check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(line.strip() for line in out.splitlines()[1:] if line.strip())


def check_hwaccel(name: str) -> None:
    """Refuse (``UsageError``) a ``--hwaccel`` method this ffmpeg does not have; ``none`` and ``auto``
    always work (``auto`` falls back to software decoding)."""
    if name in ("none", "auto") or name in hwaccels():
        return
    have = ", ".join(sorted(hwaccels())) or "none built in"
    raise UsageError(f"--hwaccel {name}: this ffmpeg has no such method (it has: {have}; or use auto)")


def _last_line(stderr: bytes | str | None) -> str:
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else (stderr or "")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else "ffmpeg could not read it"


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Probe a video file; raise ``VideoError`` when it is missing, empty or not a video."""
    path = Path(path)
    if not path.exists():
        raise VideoError(schema.MISSING, f"{path}: no such file")
    if path.is_dir():
        raise VideoError(schema.NOT_VIDEO, f"{path}: is a folder, not a video")
    if path.stat().st_size == 0:
        raise VideoError(schema.EMPTY, f"{path}: zero-length file")
    try:
        meta = ffmpeg.probe(str(path))
    except ffmpeg.Error as exc:
        reason = _last_line(exc.stderr).replace(f"{path}: ", "")
        raise VideoError(schema.NOT_VIDEO, f"{path}: not a video ({reason})") from exc
    streams = meta.get("streams", [])
    fmt = meta.get("format", {}).get("format_name", "")
    video = [s for s in streams if s.get("codec_type") == "video"
             and not s.get("disposition", {}).get("attached_pic")]
    if not video:
        if any(s.get("codec_type") == "audio" for s in streams):
            raise VideoError(schema.NO_VIDEO, f"{path}: audio-only file, it has no video stream")
        raise VideoError(schema.NOT_VIDEO, f"{path}: not a video (no video stream in {fmt or 'it'})")
    if fmt.endswith("_pipe") or fmt in ("image2", "gif"):
        raise VideoError(schema.NOT_VIDEO, f"{path}: an image, not a video; use 'harvest folder'")
    return _video_info(path, video[0], meta.get("format", {}))


def _video_info(path: Path, stream: dict[str, Any], fmt: dict[str, Any]) -> VideoInfo:
    rate = stream.get("avg_frame_rate") or "0/0"
    if rate in ("0/0", "0/1"):
        rate = stream.get("r_frame_rate") or "25/1"
    fps = Fraction(rate) if not rate.endswith("/0") else Fraction(25)
    duration = stream.get("duration") or fmt.get("duration")
    frames = stream.get("nb_frames")
    frames_n = int(frames) if frames and str(frames).isdigit() and int(frames) > 0 else None
    seconds = float(duration) if duration not in (None, "N/A") else None
    if frames_n is None and seconds:
        frames_n = round(seconds * fps)
    width, height = int(stream["width"]), int(stream["height"])
    if abs(_rotation(stream)) % 180 == 90:  # ffmpeg turns the frames upright when it decodes them
        width, height = height, width
    return VideoInfo(path, width, height, fps, frames_n, seconds, stream.get("codec_name", "?"),
                     _upright_turn(stream))


def _rotation(stream: dict[str, Any]) -> int:
    """Display rotation in degrees from the stream's side data or its (older) ``rotate`` tag."""
    for side in stream.get("side_data_list", []):
        if "rotation" in side:
            return int(float(side["rotation"]))
    return int(float(stream.get("tags", {}).get("rotate", 0) or 0))


def _upright_turn(stream: dict[str, Any]) -> int:
    """Degrees clockwise that ffmpeg turns the frames by to show them upright (its autorotate): the
    side data's rotation is counter-clockwise, the older ``rotate`` tag clockwise."""
    for side in stream.get("side_data_list", []):
        if "rotation" in side:
            return round(-float(side["rotation"]) / 90) % 4 * 90
    return round(float(stream.get("tags", {}).get("rotate", 0) or 0) / 90) % 4 * 90


def _raw_frames(data: bytes, info: VideoInfo) -> list[np.ndarray]:
    size = info.width * info.height * 3
    return [np.frombuffer(data, np.uint8, size, i * size).reshape(info.height, info.width, 3)
            for i in range(len(data) // size)]


def _run(stream: Any, stdin: Any = None) -> tuple[list[str], bytes]:
    """Run a cropdetect pass; its log lines (one per frame) and the raw frames."""
    args = (stream.output("pipe:1", format="rawvideo", pix_fmt="rgb24", fps_mode="passthrough")
            .global_args("-hide_banner", "-nostats", "-loglevel", "info").compile())
    proc = subprocess.run(args, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                          capture_output=True, check=False)
    lines = [ln for ln in proc.stderr.decode("utf-8", "replace").splitlines() if "crop=" in ln]
    return lines, proc.stdout


def crop_samples(info: VideoInfo) -> int:
    """How many frames the crop detection samples: ``CROP_SAMPLES``, fewer (at least 2) when that many
    frames of this size would hold more than ``SAMPLE_BUDGET`` bytes."""
    frame = max(1, info.width * info.height * 3)
    return max(2, min(CROP_SAMPLES, SAMPLE_BUDGET // frame))


def _cropdetect(stream: Any) -> Any:
    return stream.filter("cropdetect", limit=CROPDETECT_LIMIT, round=2, reset=1, skip=0)


def _sample_frames(info: VideoInfo, key_frames_only: bool) -> tuple[list[np.ndarray], list[str]]:
    """Decode about ``crop_samples(info)`` frames spread over the video, with cropdetect's log lines."""
    step = max((info.duration or 1.0) / crop_samples(info), 1e-3)
    input_args = {"skip_frame": "nokey"} if key_frames_only else {}
    stream = (ffmpeg.input(str(info.path), **input_args).video
              .filter("select", f"isnan(prev_selected_t)+gte(t-prev_selected_t,{step!r})"))
    lines, data = _run(_cropdetect(stream))
    return _raw_frames(data, info), lines


def _chosen_key_packets(info: VideoInfo) -> list[int] | None:
    """Decode-order numbers of the key packets ``_sample_frames`` would pick, found by demuxing alone;
    ``None`` when the stream is rotated or has no usable time base (the caller then decodes every key
    frame). Its ``select`` rule is replayed on the times ffmpeg would give those frames, in the same
    floating-point arithmetic (file start moved to 0, ``pts * time_base``), so the same frames win."""
    step = max((info.duration or 1.0) / crop_samples(info), 1e-3)
    try:
        meta = ffmpeg.probe(str(info.path), select_streams="v:0", show_entries="packet=pts,flags")
    except ffmpeg.Error:
        return None
    streams = meta.get("streams") or [{}]
    if _rotation(streams[0]) or "/" not in str(streams[0].get("time_base", "")):
        return None
    base = Fraction(streams[0]["time_base"])
    if base <= 0:
        return None
    start = meta.get("format", {}).get("start_time")
    start_us = round(float(start) * 1e6) if start not in (None, "N/A") else 0
    shift = -start_us / base / 10**6  # av_rescale_q(-start, 1/1000000, time base), halves away from 0
    shift_ts = int(abs(shift) + Fraction(1, 2)) * (1 if shift >= 0 else -1)
    unit = base.numerator / base.denominator
    chosen: list[int] = []
    previous: float | None = None
    for number, packet in enumerate(meta.get("packets", [])):
        pts = packet.get("pts")
        if "K" not in packet.get("flags", "") or pts in (None, "N/A"):
            continue
        at = float(int(pts) + shift_ts) * unit
        if previous is None or at - previous >= step:
            chosen.append(number)
            previous = at
    return chosen


def _key_samples(info: VideoInfo) -> tuple[list[np.ndarray], list[str]]:
    """The frames of ``_sample_frames(info, key_frames_only=True)``, decoding only those key frames:
    the other packets are dropped from a stream copy before the decoder sees them."""
    chosen = _chosen_key_packets(info) if info.codec in KEY_FRAME_CODECS else None
    if not chosen or len(chosen) > 4 * crop_samples(info):
        return _sample_frames(info, key_frames_only=True)
    keep = "+".join(f"eq(n\\,{number})" for number in chosen)
    copy = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(info.path), "-map", "0:v:0",
            "-c", "copy", "-bsf:v", f"noise=drop=not({keep})", "-f", "matroska", "pipe:1"]
    with subprocess.Popen(copy, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL) as remux:
        lines, data = _run(_cropdetect(ffmpeg.input("pipe:0", format="matroska", skip_frame="nokey").video),
                           stdin=remux.stdout)
        remux.stdout.close()  # type: ignore[union-attr]
    frames = _raw_frames(data, info)
    if len(frames) != len(chosen) or len(lines) != len(chosen):
        return _sample_frames(info, key_frames_only=True)
    return frames, lines


def _seek_samples(info: VideoInfo) -> tuple[list[np.ndarray], list[str]]:
    """For long videos: one key frame near each of ``CROP_SAMPLES`` evenly spaced times."""
    frames, lines = [], []
    samples = crop_samples(info)
    for k in range(samples):
        at = (k + 0.5) * (info.duration or 0.0) / samples
        source = ffmpeg.input(str(info.path), ss=f"{at:.3f}", skip_frame="nokey", noaccurate_seek=None)
        found, data = _run(_cropdetect(source.video.filter("select", "eq(n,0)")))
        got = _raw_frames(data, info)
        if got and found:
            frames.append(got[0])
            lines.append(found[0])
    return frames, lines


def _bar_edges(info: VideoInfo, frames: list[np.ndarray], lines: list[str]) -> dict[str, int]:
    """Bar width per edge: a low quantile over sampled frames that have a picture."""
    edges: dict[str, list[int]] = {"left": [], "right": [], "top": [], "bottom": []}
    for frame, line in zip(frames, lines, strict=False):
        match = _CROPDETECT.search(line)
        if not match or dark_reason(frame[::4, ::4]) is not None:
            continue
        x1, x2, y1, y2 = (int(v) for v in match.groups())
        if x2 <= x1 or y2 <= y1:
            continue
        edges["left"].append(x1)
        edges["right"].append(info.width - 1 - x2)
        edges["top"].append(y1)
        edges["bottom"].append(info.height - 1 - y2)
    return {k: int(np.quantile(v, EDGE_QUANTILE, method="lower")) if v else 0 for k, v in edges.items()}


def _even_box(width: int, height: int, cut: dict[str, int]) -> CropBox:
    """The box left after cutting each edge, shrunk to even offsets and sizes (yuv 4:2:0 safe)."""
    x = cut["left"] + cut["left"] % 2
    y = cut["top"] + cut["top"] % 2
    w = width - x - cut["right"]
    h = height - y - cut["bottom"]
    w, h = w - w % 2, h - h % 2
    if w < width // 4 or h < height // 4:  # implausible: keep the whole frame
        return CropBox(width, height)
    return CropBox(w, h, x, y)


def detect_crop(info: VideoInfo) -> CropReport:
    """Find the box without bars and edge lines, from frames spread across the whole video."""
    if (info.duration or 0.0) >= LONG_VIDEO:
        frames, lines = _seek_samples(info)
    else:
        frames, lines = _key_samples(info)
    if len(frames) < MIN_SAMPLES:
        frames, lines = _sample_frames(info, key_frames_only=False)
    bars = _bar_edges(info, frames, lines)
    bar_box = CropBox(info.width - bars["left"] - bars["right"],
                      info.height - bars["top"] - bars["bottom"], bars["left"], bars["top"])
    # Lines are judged on every sampled frame (dark films included); black frames only do not vote.
    lines_at, why = edge_lines(frames, bar_box) if bar_box.w > 8 and bar_box.h > 8 else ({}, {})
    for edge, width in bars.items():
        if width:
            why[edge] = (f"{width} px bar (cropdetect, darker than {CROPDETECT_LIMIT}/255 on at least "
                         f"{1 - EDGE_QUANTILE:.0%} of the sampled pictures)" + (f"; then {why[edge]}"
                                                                               if edge in why else ""))
    cut = {k: bars[k] + lines_at.get(k, 0) for k in bars}
    box = _even_box(info.width, info.height, cut)
    log.info("%s: crop %s (bars %s, lines %s, %d samples)", info.path, box, bars, lines_at,
             len(frames))
    return CropReport(box, bars, lines_at, len(frames), why)
