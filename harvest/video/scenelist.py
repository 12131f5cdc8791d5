"""Scene lists, like PySceneDetect's ``list-scenes``: spans of frames, sampling by scene, CSV export.

- ``scene_length`` reads ``--min-scene-len`` as PySceneDetect does: frames (``15``) or seconds
  (``0.6s``).
- ``scan_scenes`` runs the scene tracker alone over a video (no frame kept): the first pass of
  ``--frames-per-scene``, whose frames depend on where each scene ends.
- ``pick_frames`` takes N evenly spaced frames from every scene: the middles of N equal parts.
- ``scene_spans`` turns scene starts into ``SceneSpan`` rows; ``write_scenes_csv`` writes them with
  start and end frame and time per scene (``--scenes-csv``); ``read_scenes_csv`` and
  ``merge_scene_lists`` keep the scenes of videos a rerun skipped.

Example::

    from harvest.video.scenelist import scene_spans, write_scenes_csv
    spans = scene_spans("clip.mp4", "clip", starts=[0, 30, 90], end=120, fps=Fraction(25))
    write_scenes_csv("scenes.csv", spans)
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass, fields, replace
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

from manifests import InputError
from manifests.atomic import temp_beside

from .decode import DecodePlan
from .decoders import open_decoder
from .probe import VideoInfo
from .scenes import scene_id


def scene_length(text: str | int, fps: Fraction) -> int:
    """Frames in ``text``: a frame count (``15``) or seconds (``0.6s``); a bad one is an ``InputError``."""
    raw = str(text).strip().lower()
    try:
        if raw.endswith("s"):
            seconds = float(raw[:-1])
            if seconds < 0:
                raise ValueError(raw)
            return round(seconds * float(fps))
        frames = int(raw)
        if frames < 0:
            raise ValueError(raw)
        return frames
    except ValueError:
        raise InputError(f"--min-scene-len {text!r} is not a frame count (15) or seconds (0.6s)") from None


def scan_scenes(info: VideoInfo, plan: DecodePlan) -> tuple[list[int], int]:
    """Scene starts (frame indices) and the end frame (exclusive) over the plan's range, keeping nothing."""
    scan = replace(plan, scan_only=True)
    with open_decoder(info, scan) as decoder:
        for _ in decoder:  # nothing is kept: the pass only scores scenes
            pass
        decoder.finish()
        state = decoder.state
    return state.starts, state.end


def pick_frames(starts: Sequence[int], end: int, per_scene: int) -> list[int]:
    """``per_scene`` evenly spaced frames of each scene (fewer in scenes shorter than that)."""
    picked: list[int] = []
    bounds = [*starts, end]
    for first, after in pairwise(bounds):
        length = after - first
        if length <= 0:
            continue
        chosen = {first + (2 * k + 1) * length // (2 * per_scene) for k in range(per_scene)}
        picked.extend(sorted(chosen))
    return picked


@dataclass(frozen=True)
class SceneSpan:
    """One scene of one video: its id and its first and last frame (inclusive) and times."""

    video: str
    scene: str
    start_frame: int
    end_frame: int
    start_time: float
    end_time: float
    frames: int


def scene_spans(video: str, stem: str, starts: Sequence[int], end: int, fps: Fraction,
                first_scene: int = 0) -> list[SceneSpan]:
    """Spans from scene starts; ``end`` is the frame after the last one. End times are where the
    last frame ends (PySceneDetect's convention), so one scene's end time is the next one's start."""
    bounds = [*starts, end]
    out = []
    for number, (first, after) in enumerate(pairwise(bounds), first_scene):
        if after > first:
            out.append(SceneSpan(video, scene_id(stem, number), first, after - 1,
                                 round(float(first / fps), 3), round(float(after / fps), 3), after - first))
    return out


SPAN_COLUMNS = [f.name for f in fields(SceneSpan)]


def write_scenes_csv(path: str | os.PathLike[str], spans: Iterable[SceneSpan]) -> Path:
    """Write the scene list as CSV (one header row, one row per scene), atomically (a temporary file
    renamed over it); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_beside(path)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(SPAN_COLUMNS)
            writer.writerows(astuple(span) for span in spans)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def read_scenes_csv(path: str | os.PathLike[str]) -> list[SceneSpan]:
    """The scenes a scene-list CSV holds; none when it does not exist. A file that is not a scene
    list (other columns, bad numbers) is an ``InputError``, never overwritten."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        with path.open(newline="", encoding="utf-8") as src:
            reader = csv.DictReader(src)
            if reader.fieldnames != SPAN_COLUMNS:
                raise InputError(f"{path} is not a scene list (columns {reader.fieldnames}, expected "
                                 f"{SPAN_COLUMNS}); give another --scenes-csv")
            return [SceneSpan(r["video"], r["scene"], int(r["start_frame"]), int(r["end_frame"]),
                              float(r["start_time"]), float(r["end_time"]), int(r["frames"]))
                    for r in reader]
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise InputError(f"{path} cannot be read as a scene list: {exc}") from exc


def merge_scene_lists(earlier: Iterable[SceneSpan],
                      ours: Mapping[str, Sequence[SceneSpan]]) -> list[SceneSpan]:
    """A scene list file's ``earlier`` scenes updated with this run's, by video: videos this run did not
    decode (skipped as finished) keep theirs; a video it decoded from a resume point keeps its earlier
    scenes that start before that point."""
    out: list[SceneSpan] = []
    for span in earlier:
        spans = ours.get(span.video)
        if spans is None or (spans and span.start_frame < spans[0].start_frame):
            out.append(span)
    out.extend(span for spans in ours.values() for span in spans)
    return out

