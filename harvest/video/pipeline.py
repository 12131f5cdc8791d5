"""The per-video pipeline of ``harvest frames``: every Nth frame of one video, borders cropped, scenes
recorded, at decode speed.

:func:`harvest_video` is a library function any collector can call on a video file it has (the frames
collector on each video, locally or on a Dask worker; the reddit collector on downloaded ``v.redd.it``
videos)::

    from harvest.video.pipeline import FrameOptions, harvest_video
    result = harvest_video("/tmp/abc123.mp4", FrameOptions(every=48), sink, store_root="data",
                           extra={"post_id": "abc123"}, label="doom",
                           name="https://v.redd.it/abc123/DASH_720.mp4")

It probes the video, finds the crop box (``--crop auto``: bars by cropdetect over frames from the whole
video, plus thin edge rows), then decodes the video once (:mod:`harvest.video.decoders`: PyAV in-process
by default, an ffmpeg process with ``--hwaccel``; every frame, reference frames only or key frames only,
as ``--sampling`` says): kept frames are cropped and scaled, encoded, stored in the image store under
``store_root`` and added to
``sink`` (anything with ``add(row)``: a :class:`manifests.Rows`) as they come, each row carrying
``video``, ``frame``, ``time``, ``scene``, ``crop``, ``sampling``, ``origin = <file>#frame=N`` and the
``extra`` columns. Near-black and near-uniform frames are dropped (counted) unless ``keep_dark``.
Per-video failures come back in ``VideoResult`` (``status``/``error``) and as a row with that status
in ``sink``, never as exceptions; only a missing ffmpeg raises ``MissingToolError``. A pass where
ffmpeg sent more or fewer kept frames than the selection keeps fails as ``frame_mismatch``.

:class:`~harvest.video.collector.FramesCollector` runs it over several videos.
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

from manifests import Rows, lineage, schema
from manifests.progress import Progress, or_none
from manifests.store import store_encoded

from ..folderscan import shown
from .decode import DecodePlan, DecodeState, Selection
from .decoders import open_decoder
from .options import FORMATS, FrameOptions
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
from .resume import ResumePoint
from .scenelist import (
    pick_frames,
    scan_scenes,
    scene_length,
    scene_spans,
)
from .scenes import SceneRules, dark_reason, scene_id
from .summary import VideoResult

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


def check_pixels(info: VideoInfo, max_pixels: int) -> None:
    """Refuse (``too_large``) a video whose declared frame size is over ``--max-pixels``, before a
    single frame is decoded (a small file can declare 10000x10000 frames: 300 MB each)."""
    pixels = info.width * info.height
    if pixels > max_pixels:
        raise VideoError(schema.TOO_LARGE, f"{info.path}: frames of {info.width}x{info.height} = {pixels} "
                         f"pixels, over the --max-pixels limit of {max_pixels}: not decoded")


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
                      scene_rules(options, info.fps), first_scene, hwaccel=options.hwaccel,
                      sampling=options.sampling_policy, decoder=options.resolved_decoder)


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
    name = name or shown(path)
    result = VideoResult(name)
    try:
        _check_name(path)
        info = probe(path)
        check_pixels(info, options.limits.max_pixels)
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
    with open_decoder(info, plan) as decoder:
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
    result.scene_list = scene_spans(name, path.stem, state.starts, state.end, info.fps, plan.first_scene)
    bar.update(state.decoded, result.kept, total=state.decoded)
    _judge(result, code, state, name)
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


def _check_name(path: Path) -> None:
    """A file name with a byte of another encoding (not valid UTF-8) fails as one line: ffmpeg's Python
    binding cannot build a command around it, nor can a UTF-8 manifest hold it."""
    if shown(path) != str(path):
        raise VideoError(schema.ERROR, f"{shown(path)}: the file name is not valid UTF-8 (a byte of "
                                       f"another encoding); rename the file and run again")


def _failure_row(name: str, path: Path, result: VideoResult, label: str | None,
                 extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """The manifest row that records why a video gave no frames, or not all of them."""
    return {schema.SOURCE: SOURCE, schema.ORIGIN: name, schema.VIDEO: name,
            schema.LABEL: label or Path(name).stem, schema.STATUS: result.status, schema.ERROR: result.error,
            schema.HARVESTED_AT: lineage.now(), **(extra or {})}


def _judge(result: VideoResult, code: int, state: DecodeState, path: str) -> None:
    """Turn ffmpeg's exit status, error lines and kept-frame count into the result's status."""
    errors = state.errors
    mismatch = state.mismatch()
    if mismatch:  # the indices of this pass's frames cannot be trusted, whatever else happened
        result.status, result.error = schema.FRAME_MISMATCH, f"{path}: {mismatch}"
        return
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
