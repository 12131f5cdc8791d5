"""Frames of downloaded ``v.redd.it`` videos: the frames collector behind ``harvest reddit``'s video hook.

``RedditVideoFrames(FrameOptions(every=48))`` is the ``RedditOptions.video_frames`` handler that
``harvest reddit --video-frames`` uses. It runs :func:`harvest.video.collector.harvest_video` on the
video file the reddit collector downloaded, so the frames get everything ``harvest frames`` does (one
decoding pass, crop, scenes, dark frames dropped), and returns the rows instead of adding them:

- each kept frame is a row with the post's columns (``post_id``, ``subreddit``, ``title``, ``score``,
  ..., ``media_url``), ``source = reddit``, ``video`` = the video URL, ``origin`` = ``URL#frame=N``,
  ``scene`` = ``<post_id>:<nnnn>`` and the label of the post;
- a video ffmpeg cannot read (HTML served as a video, a damaged file) is one row with its ``status``;
- a video whose sampled frames were all dropped is one ``no_frames`` row, so that a rerun knows it.

The reddit collector resumes by video URL: a video with any row in the manifest is not downloaded again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from manifests import schema

from ..video import FrameOptions, harvest_video

log = logging.getLogger(__name__)


class _RowList(list[dict[str, Any]]):
    """A sink for ``harvest_video`` that keeps the rows (the reddit collector adds them itself)."""

    def add(self, row: dict[str, Any]) -> None:
        self.append(dict(row))


@dataclass(frozen=True)
class RedditVideoFrames:
    """The ``RedditOptions.video_frames`` handler: frames of one downloaded video as manifest rows."""

    options: FrameOptions = FrameOptions()

    def __call__(self, path: Path, fields: dict[str, Any], store_root: Path) -> list[dict[str, Any]]:
        """Frames of the video at ``path``; ``fields`` are the post's columns, ``origin`` its URL."""
        url = str(fields[schema.ORIGIN])
        extra = {k: v for k, v in fields.items() if k not in (schema.ORIGIN, schema.LABEL)}
        rows = _RowList()
        result = harvest_video(path, self.options, rows, store_root=store_root, extra=extra,
                               label=fields.get(schema.LABEL), name=url)
        log.info("%s: %d frames decoded, %d kept, %d scenes, dropped %s (%s)", url, result.decoded,
                 result.kept, result.scenes, result.dropped or "none", result.status)
        return rows
