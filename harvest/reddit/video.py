"""Frames of downloaded ``v.redd.it`` videos: the frames collector behind ``harvest reddit``'s video hook.

``RedditVideoFrames(FrameOptions(every=48))`` is the ``RedditOptions.video_frames`` handler that
``harvest reddit --video-frames`` uses. It runs :func:`harvest.video.pipeline.harvest_video` on the
video file the reddit collector downloaded, so the frames get everything ``harvest frames`` does (one
decoding pass, crop, scenes with ``min_scene_len``, the adaptive detector and ``frames_per_scene``, dark
frames dropped), and returns the rows instead of adding them:

- each kept frame is a row with the post's columns (``post_id``, ``subreddit``, ``title``, ``score``,
  ..., ``media_url``), ``source = reddit``, ``video`` = the video URL, ``origin`` = ``URL#frame=N``,
  ``scene`` = ``<post_id>:<nnnn>`` and the label of the post;
- a video ffmpeg cannot read (HTML served as a video, a damaged file) is one row with its ``status``;
- a video whose sampled frames were all dropped is one ``no_frames`` row, so that a rerun knows it.

Scene list: with ``scenes_csv``, every video's scenes go into one CSV for the whole run, in the
format of ``harvest frames --scenes-csv`` (``video`` is the video URL, ``scene`` is
``<post_id>:<nnnn>``). The reddit collector calls :meth:`RedditVideoFrames.finish` after the run; the
file is merged, not replaced: scenes of videos earlier runs listed stay, so after a rerun (which
decodes only new videos) it still lists every video. It is written by this process, so it needs the
local executor (``--executor dask`` runs the handler on the workers and is refused with it).

The reddit collector resumes by video URL: a video with any row in the manifest is not downloaded again.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from manifests import schema

from ..video import FrameOptions, harvest_video
from ..video.scenelist import SceneSpan, merge_scene_lists, read_scenes_csv, write_scenes_csv

log = logging.getLogger(__name__)


class _RowList(list[dict[str, Any]]):
    """A sink for ``harvest_video`` that keeps the rows (the reddit collector adds them itself)."""

    def add(self, row: dict[str, Any]) -> None:
        self.append(dict(row))


class SceneLog:
    """The scenes of the videos one run decoded, by video (thread-safe; the fetcher's threads add)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._videos: dict[str, list[SceneSpan]] = {}

    def add(self, video: str, spans: list[SceneSpan]) -> None:
        with self._lock:
            self._videos[video] = list(spans)

    def write(self, path: Path, earlier: list[SceneSpan]) -> Path:
        """Write ``earlier`` scenes updated with this run's (``merge_scene_lists``), atomically."""
        with self._lock:
            ours = dict(self._videos)
        return write_scenes_csv(path, merge_scene_lists(earlier, ours))

    def __getstate__(self) -> dict[str, Any]:  # a lock does not pickle (the handler may travel)
        return {"_videos": self._videos}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._lock, self._videos = threading.Lock(), state["_videos"]


@dataclass(frozen=True)
class RedditVideoFrames:
    """The ``RedditOptions.video_frames`` handler: frames of one downloaded video as manifest rows.

    ``scenes_csv``: write the scene list of every video here (merged with what the file lists);
    an existing file that is not a scene list is refused when the handler is made.
    """

    options: FrameOptions = FrameOptions()
    scenes_csv: Path | None = None
    scenes: SceneLog = field(default_factory=SceneLog, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.scenes_csv is not None:
            object.__setattr__(self, "scenes_csv", Path(self.scenes_csv))
            read_scenes_csv(self.scenes_csv)  # refused now, not after a long run

    def __call__(self, path: Path, fields: dict[str, Any], store_root: Path) -> list[dict[str, Any]]:
        """Frames of the video at ``path``; ``fields`` are the post's columns, ``origin`` its URL."""
        url = str(fields[schema.ORIGIN])
        extra = {k: v for k, v in fields.items() if k not in (schema.ORIGIN, schema.LABEL)}
        rows = _RowList()
        result = harvest_video(path, self.options, rows, store_root=store_root, extra=extra,
                               label=fields.get(schema.LABEL), name=url)
        if result.scene_list:
            self.scenes.add(url, result.scene_list)
        log.info("%s: %d frames decoded, %d kept, %d scenes, dropped %s (%s)", url, result.decoded,
                 result.kept, result.scenes, result.dropped or "none", result.status)
        return rows

    def finish(self) -> str | None:
        """After the run: write the scene list (``scenes_csv``); returns where, or ``None``."""
        if self.scenes_csv is None:
            return None
        return str(self.scenes.write(self.scenes_csv, read_scenes_csv(self.scenes_csv)))
