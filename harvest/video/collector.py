"""``harvest frames``: every Nth frame of a video, borders cropped, scenes recorded, at decode speed.

The core is :func:`harvest_video`, a library function any collector can call on a video file it has
(the reddit collector uses it on downloaded ``v.redd.it`` videos)::

    from harvest.video.collector import FrameOptions, harvest_video
    result = harvest_video("/tmp/abc123.mp4", FrameOptions(every=48), sink, store_root="data",
                           extra={"post_id": "abc123"}, label="doom",
                           name="https://v.redd.it/abc123/DASH_720.mp4")

It probes the video, finds the crop box (``--crop auto``: bars by cropdetect over frames from the whole
video, plus thin edge lines), then decodes the video once (:mod:`harvest.video.decode`): kept frames are
cropped and scaled by ffmpeg, encoded, stored in the image store under ``store_root`` and added to
``sink`` (anything with ``add(row)``, such as a ``manifests.Appender``) as they come, each row carrying
``video``, ``frame``, ``time``, ``scene``, ``crop``, ``sampling``, ``origin = <file>#frame=N`` and the
``extra`` columns. Near-black and near-uniform frames are dropped (counted) unless ``keep_dark``.
Per-video failures come back in ``VideoResult`` (``status``/``error``) and as a row with that status
in ``sink``, never as exceptions; only a missing ffmpeg raises ``MissingToolError``.

``FramesCollector`` runs it over several videos in parallel threads (ffmpeg does the decoding in its
own processes), resumes an interrupted run from the last frame in the manifest, and skips videos the
lineage log records as finished with the same options.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

from PIL import Image

from manifests import Appender, lineage, schema
from manifests.progress import NoProgress, Progress

from ..collector import Collector
from ..store import Limits, store_bytes
from ..summary import RunSummary
from .decode import DecodePlan, Selection, VideoDecoder
from .probe import CropBox, CropReport, VideoError, VideoInfo, detect_crop, probe, require_ffmpeg
from .resume import ResumePoint, finished_videos, resume_points, video_key
from .scenelist import SceneSpan, pick_frames, scan_scenes, scene_length, scene_spans, write_scenes_csv
from .scenes import DEFAULT_THRESHOLD, SceneRules, dark_reason, scene_id

log = logging.getLogger(__name__)

FORMATS = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
SOURCE = "frames"


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
    """

    every: int | None = None
    every_seconds: float | None = None
    start: float | None = None
    end: float | None = None
    crop: str = "auto"
    size: tuple[int, int] | None = None
    max_side: int | None = None
    format: str = "jpg"
    quality: int = 92
    keep_dark: bool = False
    scene_threshold: float = DEFAULT_THRESHOLD
    black_gap: float = 0.5
    limits: Limits = Limits()
    min_scene_len: str = "0"
    detector: str = "content"
    adaptive_threshold: float = 3.0
    frames_per_scene: int | None = None

    @property
    def selection(self) -> Selection:
        if self.frames_per_scene:
            return Selection(frames=frozenset(), per_scene=self.frames_per_scene)
        if self.every_seconds:
            return Selection(seconds=self.every_seconds)
        return Selection(every=self.every or 48)

    def sampling(self) -> str:
        """The ``sampling`` column: everything that decides which bytes a frame row holds."""
        parts = [self.selection.key()]
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


@dataclass
class VideoResult:
    """What harvesting one video did; ``status`` is ``ok`` or why (part of) it failed."""

    video: str
    status: str = schema.OK
    error: str | None = None
    decoded: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    scenes: int = 0
    crop: dict[str, Any] = field(default_factory=dict)
    resumed_at: int | None = None
    skipped: bool = False
    scene_list: list[SceneSpan] = field(default_factory=list)

    def details(self) -> dict[str, Any]:
        return {"status": self.status, "error": self.error, "decoded": self.decoded, "kept": self.kept,
                "dropped": self.dropped, "scenes": self.scenes, **self.crop,
                "resumed_at": self.resumed_at}


class FrameProgress(Protocol):
    """Progress of one video: frames decoded out of the total, frames kept."""

    def update(self, decoded: int, kept: int, total: int | None) -> None: ...


class _NoFrameProgress:
    def update(self, decoded: int, kept: int, total: int | None) -> None:
        pass


def output_size(box: CropBox, options: FrameOptions) -> tuple[int, int]:
    """Output frame size after the crop: ``size``, or within ``max_side``; even numbers."""
    if options.size:
        return options.size
    w, h = box.w, box.h
    if options.max_side and max(w, h) > options.max_side:
        scale = options.max_side / max(w, h)
        w, h = max(2, round(w * scale / 2) * 2), max(2, round(h * scale / 2) * 2)
    return w, h


def choose_crop(info: VideoInfo, crop: str) -> CropReport:
    """The crop box for ``--crop auto|none|W:H:X:Y``."""
    if crop == "auto":
        return detect_crop(info)
    if crop == "none":
        return CropReport(CropBox(info.width, info.height))
    box = CropBox.parse(crop)
    if not box.fits(info.width, info.height):
        raise VideoError(schema.NOT_VIDEO, f"{info.path}: crop {box} does not fit its "
                         f"{info.width}x{info.height} frames")
    return CropReport(box)


def encode(rgb: Any, fmt: str, quality: int) -> bytes:
    """Encode an RGB array as an image file's bytes."""
    buf = io.BytesIO()
    kwargs = {"quality": quality} if fmt != "png" else {"compress_level": 1}
    Image.fromarray(rgb, "RGB").save(buf, FORMATS[fmt], **kwargs)
    return buf.getvalue()


def _plan(info: VideoInfo, options: FrameOptions, report: CropReport,
          resume: ResumePoint | None) -> DecodePlan:
    start = info.frame_at(options.start) if options.start else 0
    first_scene = 0
    if resume is not None and resume.frame >= start:
        start, first_scene = resume.frame, resume.scene
    end = info.frame_at(options.end) if options.end is not None else None
    return DecodePlan(options.selection, report.box, output_size(report.box, options), start, end,
                      scene_rules(options, info.fps), first_scene)


def scene_rules(options: FrameOptions, fps: Fraction) -> SceneRules:
    """The scene tracker's rules for these options at this frame rate."""
    return SceneRules(options.scene_threshold, max(1, round(options.black_gap * float(fps))),
                      scene_length(options.min_scene_len, fps), options.detector,
                      options.adaptive_threshold, dissolve=max(4, round(float(fps))))


@dataclass
class _Rows:
    """Rows waiting for their scene number (the thumbnail thread may lag behind by a few frames)."""

    sink: Any
    stem: str
    pending: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    def add(self, index: int, row: dict[str, Any], scenes: dict[int, int], final: bool = False) -> None:
        if row:
            self.pending.append((index, row))
        while self.pending and (final or self.pending[0][0] in scenes):
            i, waiting = self.pending.pop(0)
            waiting[schema.SCENE] = scene_id(self.stem, scenes.get(i, 0))
            self.sink.add(waiting)


def harvest_video(path: str | Path, options: FrameOptions, sink: Any, *, store_root: str | Path,
                  extra: Mapping[str, Any] | None = None, label: str | None = None,
                  name: str | None = None, resume: ResumePoint | None = None,
                  progress: FrameProgress | None = None,
                  cancel: threading.Event | None = None) -> VideoResult:
    """Take frames from one video into ``sink``; see the module docstring.

    ``name`` is what rows call the video (``video`` and ``origin``), by default its path: a collector
    that downloaded the file passes its URL. Setting ``cancel`` stops the pass (``KeyboardInterrupt``).
    """
    require_ffmpeg()
    path = Path(path)
    name = name or str(path)
    result = VideoResult(name)
    try:
        info = probe(path)
        report = choose_crop(info, options.crop)
    except VideoError as exc:
        result.status, result.error = exc.status, str(exc)
        sink.add(_failure_row(name, path, result, label, extra))
        return result
    result.crop = report.details()
    plan = _plan(info, options, report, resume)
    if options.frames_per_scene:
        starts, end = scan_scenes(info, plan)
        picked = frozenset(pick_frames(starts, end, options.frames_per_scene))
        plan = replace(plan, selection=Selection(frames=picked, per_scene=options.frames_per_scene))
    result.resumed_at = plan.start if resume is not None else None
    base = {schema.SOURCE: SOURCE, schema.LABEL: label or path.stem, schema.VIDEO: name,
            schema.CROP: str(report.box), schema.SAMPLING: options.sampling(), **(extra or {})}
    rows = _Rows(sink, path.stem)
    progress = progress or _NoFrameProgress()
    with VideoDecoder(info, plan) as decoder:
        for index, rgb in decoder:
            if cancel is not None and cancel.is_set():
                raise KeyboardInterrupt
            progress.update(decoder.state.decoded, result.kept, info.frames)
            if resume is not None and index <= resume.frame:
                continue
            reason = None if options.keep_dark else dark_reason(rgb)
            if reason:
                result.dropped[reason] = result.dropped.get(reason, 0) + 1
                rows.add(index, {}, decoder.state.scenes)
                continue
            info_, rel = store_bytes(encode(rgb, options.format, options.quality), store_root,
                                     options.limits)
            row = {**base, **info_.row(), schema.PATH: rel.as_posix() if rel else None,
                   schema.FRAME: index, schema.TIME: round(info.time_of(index), 3),
                   schema.ORIGIN: f"{name}#frame={index}", schema.HARVESTED_AT: lineage.now()}
            result.kept += 1
            rows.add(index, row, decoder.state.scenes)
        code = decoder.finish()
        rows.add(-1, {}, decoder.state.scenes, final=True)
        state = decoder.state
    result.decoded, result.scenes = state.decoded, state.cuts + 1
    result.scene_list = scene_spans(name, path.stem, state.starts, plan.start + state.decoded, info.fps,
                                    plan.first_scene)
    progress.update(state.decoded, result.kept, state.decoded)
    _judge(result, code, state.errors, name)
    if result.status != schema.OK:
        sink.add(_failure_row(name, path, result, label, extra))
    elif result.kept == 0 and resume is None:
        # Recorded, so a rerun knows the video is done rather than decoding it again.
        row = _failure_row(name, path, result, label, extra)
        sink.add({**row, schema.STATUS: schema.NO_FRAMES, schema.ERROR: _why_none(result, name),
                  schema.SAMPLING: options.sampling()})
    return result


def _why_none(result: VideoResult, name: str) -> str:
    if result.dropped:
        dropped = ", ".join(f"{n} {reason}" for reason, n in sorted(result.dropped.items()))
        return f"{name}: every sampled frame was dropped ({dropped}); --keep-dark keeps them"
    return f"{name}: no frame in the range asked for ({result.decoded} decoded)"


def _failure_row(name: str, path: Path, result: VideoResult, label: str | None,
                 extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """The manifest row that records why a video gave no frames, or not all of them."""
    return {schema.SOURCE: SOURCE, schema.ORIGIN: name, schema.VIDEO: name,
            schema.LABEL: label or path.stem, schema.STATUS: result.status, schema.ERROR: result.error,
            schema.HARVESTED_AT: lineage.now(), **(extra or {})}


def _judge(result: VideoResult, code: int, errors: list[tuple[int, str]], path: str) -> None:
    """Turn ffmpeg's exit status and error lines into the result's status."""
    if result.decoded == 0 and not errors and code == 0:
        return  # nothing in the range asked for
    if result.decoded == 0:
        reason = errors[-1][1] if errors else f"ffmpeg exited with status {code}"
        result.status, result.error = schema.DAMAGED, f"{path}: no frame could be decoded ({reason})"
    elif errors or code != 0:
        first = errors[0][0] if errors else result.decoded
        result.status = schema.DAMAGED
        result.error = (f"{path}: damaged stream, {len(errors)} decoding errors from about frame "
                        f"{first}; {result.decoded} frames decoded, those before and after the damage "
                        "were kept")


class _LockedSink:
    """An Appender shared by worker threads."""

    def __init__(self, sink: Appender) -> None:
        self._sink = sink
        self._lock = threading.Lock()

    def add(self, row: Mapping[str, Any]) -> None:
        with self._lock:
            self._sink.add(row)


@dataclass(frozen=True)
class FramesOptions:
    """Options of ``harvest frames``: the videos, how to take frames, a label, parallel workers."""

    videos: tuple[Path, ...]
    frames: FrameOptions = FrameOptions()
    label: str | None = None
    workers: int = 1
    scenes_csv: Path | None = None


class FramesCollector(Collector):
    """Frames from video files, one decoding pass each, several videos in parallel."""

    name = "frames"
    source = SOURCE
    example = "harvest frames kiki.mkv totoro.mkv --every 48 --max-side 720 -m ghibli/manifest.csv"

    def run(self, sink: Appender, progress: Progress | None = None,
            bars: Any = None) -> RunSummary:
        """Harvest every video; ``bars(video)`` may give a ``FrameProgress`` per video."""
        require_ffmpeg()
        opts: FramesOptions = self.options
        progress = progress or NoProgress()
        summary = self.new_summary()
        sampling = opts.frames.sampling()
        done = finished_videos(sink.path, sampling)
        points = resume_points(sink.path, sampling)
        shared = _LockedSink(sink)
        results: dict[str, VideoResult] = {}

        cancel = threading.Event()

        def one(video: Path) -> VideoResult:
            if cancel.is_set():
                raise KeyboardInterrupt
            key = video_key(video)
            if key in done:
                return VideoResult(key, skipped=True, kept=done[key].get("kept", 0),
                                   status=done[key].get("status") or schema.OK,
                                   error=done[key].get("error"))
            bar = bars(video) if bars else None
            return harvest_video(key, opts.frames, shared, store_root=sink.path.parent,
                                 label=opts.label, resume=points.get(key), progress=bar, cancel=cancel)

        progress.total(len(opts.videos), "videos")
        with ThreadPoolExecutor(max_workers=max(1, opts.workers)) as pool:
            mapped = map(one, opts.videos) if opts.workers <= 1 else pool.map(one, opts.videos)
            try:
                for video, result in zip(opts.videos, mapped, strict=True):
                    results[str(video)] = result
                    progress.advance()
            except BaseException:  # Ctrl-C: stop the other workers between two frames
                cancel.set()
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        sink.flush()
        if opts.scenes_csv is not None:
            spans = [span for r in results.values() for span in r.scene_list]
            summary.details["scenes_csv"] = str(write_scenes_csv(opts.scenes_csv, spans))
        _summarise(summary, results, opts.label)
        summary.merge = sink.stats
        sink.details["videos"] = {r.video: {**r.details(), "sampling": sampling,
                                            **_file_stamp(r.video)}
                                  for r in results.values() if not r.skipped}
        return summary


def _file_stamp(video: str) -> dict[str, int]:
    try:
        stat = Path(video).stat()
    except OSError:
        return {}
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _summarise(summary: RunSummary, results: dict[str, VideoResult], label: str | None) -> None:
    dropped: dict[str, int] = {}
    for name, result in results.items():
        tag = label or Path(name).stem
        if result.skipped:
            summary.known += result.kept
        else:
            for _ in range(result.kept):
                summary.record(tag, schema.OK)
            if result.status != schema.OK:
                summary.record(tag, result.status)
        for reason, count in result.dropped.items():
            dropped[reason] = dropped.get(reason, 0) + count
    summary.details["dropped_frames"] = dropped
    summary.details["videos"] = {name: r.details() | {"skipped": r.skipped} for name, r in results.items()}
    summary.details["failed_videos"] = [r.error for r in results.values() if r.status != schema.OK]
