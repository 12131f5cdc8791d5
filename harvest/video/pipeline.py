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
``sink`` (anything with ``add(row)``: a :class:`manifests.Rows`) as they come, each row carrying
``video``, ``frame``, ``time``, ``scene``, ``crop``, ``sampling``, ``origin = <file>#frame=N`` and the
``extra`` columns. Near-black and near-uniform frames are dropped (counted) unless ``keep_dark``.
Per-video failures come back in ``VideoResult`` (``status``/``error``) and as a row with that status
in ``sink``, never as exceptions; only a missing ffmpeg raises ``MissingToolError``.

``FramesCollector`` runs it over several videos in parallel threads (ffmpeg does the decoding in its
own processes), resumes an interrupted run from the last frame in the manifest, and skips videos the
manifest's archive records as finished with the same options (:mod:`harvest.video.resume`).
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from PIL import Image

from manifests import Rows, RowSink, lineage, schema
from manifests.executor import ExecutorSpec, open_executor
from manifests.progress import Progress, or_none

from ..collector import Collector
from ..store import store_encoded
from .decode import DecodePlan, Selection, VideoDecoder
from .options import FORMATS, FrameOptions, FramesOptions
from .probe import (
    CropBox,
    CropReport,
    VideoError,
    VideoInfo,
    check_hwaccel,
    detect_crop,
    probe,
    require_ffmpeg,
)
from .resume import ResumePoint, file_stamp, finished_videos, resume_points, video_key
from .scenelist import (
    merge_scene_lists,
    pick_frames,
    read_scenes_csv,
    scan_scenes,
    scene_length,
    scene_spans,
    write_scenes_csv,
)
from .scenes import SceneRules, dark_reason, scene_id
from .summary import FramesSummary, VideoResult

log = logging.getLogger(__name__)

SOURCE = "frames"


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
                      scene_rules(options, info.fps), first_scene, hwaccel=options.hwaccel)


def scene_rules(options: FrameOptions, fps: Fraction) -> SceneRules:
    """The scene tracker's rules for these options at this frame rate."""
    return SceneRules(options.scene_threshold, max(1, round(options.black_gap * float(fps))),
                      scene_length(options.min_scene_len, fps), options.detector,
                      options.adaptive_threshold, dissolve=max(4, round(float(fps))))


@dataclass
class _Rows:
    """Rows waiting for their scene number (the thumbnail thread may lag behind by a few frames)."""

    sink: Rows
    stem: str
    pending: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    def add(self, index: int, row: dict[str, Any], scenes: dict[int, int], final: bool = False) -> None:
        if row:
            self.pending.append((index, row))
        while self.pending and (final or self.pending[0][0] in scenes):
            i, waiting = self.pending.pop(0)
            waiting[schema.SCENE] = scene_id(self.stem, scenes.get(i, 0))
            self.sink.add(waiting)


def harvest_video(path: str | Path, options: FrameOptions, sink: Rows, *, store_root: str | Path,
                  extra: Mapping[str, Any] | None = None, label: str | None = None,
                  name: str | None = None, resume: ResumePoint | None = None,
                  progress: Progress | None = None,
                  cancel: threading.Event | None = None) -> VideoResult:
    """Take frames from one video into ``sink``; see the module docstring.

    ``name`` is what rows call the video (``video`` and ``origin``), by default its path: a collector
    that downloaded the file passes its URL. ``progress`` is this video's bar: frames decoded out of
    the video's frames, and how many were kept. Setting ``cancel`` stops the pass
    (``KeyboardInterrupt``).
    """
    require_ffmpeg()
    check_hwaccel(options.hwaccel)
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
    bar = _FrameBar(or_none(progress), path.name, info.frames)
    with VideoDecoder(info, plan) as decoder:
        for index, rgb in decoder:
            if cancel is not None and cancel.is_set():
                raise KeyboardInterrupt
            bar.update(decoder.state.decoded, result.kept)
            if resume is not None and index <= resume.frame:
                continue
            reason = None if options.keep_dark else dark_reason(rgb)
            if reason:
                result.dropped[reason] = result.dropped.get(reason, 0) + 1
                rows.add(index, {}, decoder.state.scenes)
                continue
            info_, rel = store_encoded(encode(rgb, options.format, options.quality),
                                       FORMATS[options.format], (rgb.shape[1], rgb.shape[0]), store_root,
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
    bar.update(state.decoded, result.kept, total=state.decoded)
    _judge(result, code, state.errors, name)
    if result.status != schema.OK:
        sink.add(_failure_row(name, path, result, label, extra))
    elif result.kept == 0 and resume is None:
        # Recorded, so a rerun knows the video is done rather than decoding it again.
        row = _failure_row(name, path, result, label, extra)
        sink.add({**row, schema.STATUS: schema.NO_FRAMES, schema.ERROR: _why_none(result, name),
                  schema.SAMPLING: options.sampling()})
    return result


class _FrameBar:
    """Drives one video's progress bar from the decoder's absolute counts."""

    def __init__(self, progress: Progress, name: str, total: int | None) -> None:
        self.progress, self.name, self.decoded, self.kept = progress, name, 0, -1
        self.total = total

    def update(self, decoded: int, kept: int, total: int | None = None) -> None:
        if kept != self.kept or total is not None:
            self.kept, self.total = kept, total if total is not None else self.total
            self.progress.total(self.total, f"{self.name}: {kept} kept")
        if decoded > self.decoded:
            self.progress.advance(decoded - self.decoded)
            self.decoded = decoded


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
    """A row sink shared by worker threads."""

    def __init__(self, sink: RowSink) -> None:
        self._sink = sink
        self._lock = threading.Lock()

    def add(self, row: Mapping[str, Any]) -> None:
        with self._lock:
            self._sink.add(row)

    def mark(self, key: str, variant: str, info: Mapping[str, Any]) -> None:
        with self._lock:
            self._sink.mark(SOURCE, key, variant, info)


class FramesCollector(Collector):
    """Frames from video files, one decoding pass each, several videos in parallel."""

    name = "frames"
    source = SOURCE
    example = "harvest frames kiki.mkv totoro.mkv --every 48 --max-side 720 -m ghibli/manifest.csv"
    options_type = FramesOptions
    summary_type = FramesSummary
    group_columns = (schema.VIDEO, schema.SCENE)

    options: FramesOptions

    def run(self, sink: RowSink, progress: Progress | None = None) -> FramesSummary:
        """Harvest every video: a bar per video under ``progress``, which counts videos."""
        require_ffmpeg()
        opts = self.options
        check_hwaccel(opts.frames.hwaccel)
        progress = or_none(progress)
        summary: FramesSummary = self.new_summary()
        sampling = opts.frames.sampling()
        # A scene list to update is read (and one that is not a scene list refused) before any work.
        earlier = read_scenes_csv(opts.scenes_csv) if opts.scenes_csv is not None else []
        self.declare_groups(sink)
        done = finished_videos(sink, sampling)
        points = resume_points(sink.path, sampling)
        shared = _LockedSink(sink)
        cancel = threading.Event()

        def one(video: Path) -> VideoResult:
            if cancel.is_set():
                raise KeyboardInterrupt
            key = video_key(video)
            if key in done:
                return VideoResult(key, skipped=True, kept=done[key].get("kept", 0),
                                   status=done[key].get("status") or schema.OK,
                                   error=done[key].get("error"))
            result = harvest_video(key, opts.frames, shared, store_root=sink.path.parent,
                                   label=opts.label, resume=points.get(key), cancel=cancel,
                                   progress=progress.task(video.name))
            if result.status in (schema.OK, schema.DAMAGED):  # finished: a rerun skips it
                shared.mark(key, sampling, {**result.details(), **file_stamp(key)})
            return result

        progress.total(len(opts.videos), "videos")
        if opts.executor is not None and opts.executor.distributed:
            self._run_remote(opts, one, done, points, shared, summary, progress, sink.path.parent)
        else:
            self._run_local(opts, one, summary, progress, cancel)
        sink.flush()
        if opts.scenes_csv is not None:
            ours = {r.video: r.scene_list for r in summary.videos.values() if not r.skipped}
            summary.scenes_csv = str(write_scenes_csv(opts.scenes_csv, merge_scene_lists(earlier, ours)))
        summary.merge = sink.stats
        summary.warn_empty(opts.frames.start, opts.frames.end)
        sink.details["videos"] = {r.video: {**r.details(), "sampling": sampling, **file_stamp(r.video)}
                                  for r in summary.videos.values() if not r.skipped}  # audit trail
        return summary

    @staticmethod
    def _run_local(opts: FramesOptions, one: Any, summary: FramesSummary, progress: Progress,
                   cancel: threading.Event) -> None:
        """Videos on threads of this process (each ffmpeg pass is its own process already)."""
        executor = open_executor(ExecutorSpec(workers=opts.workers), processes=False, size=len(opts.videos))
        try:
            for video, result in zip(opts.videos, executor.map(one, opts.videos), strict=True):
                summary.add_video(str(video), result, opts.label)
                progress.advance()
        except BaseException:  # Ctrl-C: stop the other workers between two frames
            cancel.set()
            raise
        finally:
            executor.close()

    @staticmethod
    def _run_remote(opts: FramesOptions, one: Any, done: Mapping[str, Any], points: Mapping[str, Any],
                    shared: _LockedSink, summary: FramesSummary, progress: Progress, root: Path) -> None:
        """One video per task on the Dask executor; rows come back to this process's sink."""
        from .remote import VideoTask, run_videos

        sampling = opts.frames.sampling()
        todo = [v for v in opts.videos if video_key(v) not in done]
        for video in opts.videos:
            if video_key(video) in done:
                summary.add_video(str(video), one(video), opts.label)
                progress.advance()
        tasks = [VideoTask(video_key(v), opts.frames, str(root), opts.label,
                           points.get(video_key(v))) for v in todo]
        ran = run_videos(tasks, shared, opts.executor, progress)
        for video, task in zip(todo, tasks, strict=True):
            result = ran[task.video]
            if result.status in (schema.OK, schema.DAMAGED):  # finished: a rerun skips it
                shared.mark(task.video, sampling, {**result.details(), **file_stamp(task.video)})
            summary.add_video(str(video), result, opts.label)
