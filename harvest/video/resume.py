"""What earlier ``harvest frames`` runs left behind: where to resume a video, which ones are finished.

A video is identified by its resolved path and the ``sampling`` string of the options (which frames,
crop mode, size, format). Resuming starts the decoding pass at the last frame already in the manifest
(it is decoded again, not stored again, so scene scoring continues from it) and the scene numbering
from that row's scene. A video whose run finished is recorded in the manifest's archive
(:mod:`manifests.archive`, collector ``frames``, variant = the sampling string) with its size and
modification time; the same options on the same unchanged file decode nothing at all.

Manifests from before the archive recorded finished videos only in the lineage log: when the archive
holds no ``frames`` record, the log is read instead and what it says is copied into the archive, so
the log can be pruned afterwards.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from manifests import RowSink, lineage_entries, read, schema

from .scenes import scene_number

SOURCE = "frames"


@dataclass(frozen=True)
class ResumePoint:
    """The last frame of a video already in the manifest and its scene number."""

    frame: int
    scene: int


def video_key(video: str | os.PathLike[str]) -> str:
    """How a video is named in the manifest: its resolved path."""
    return str(Path(video).resolve())


def resume_points(manifest: str | os.PathLike[str], sampling: str) -> dict[str, ResumePoint]:
    """Per video, the last frame harvested with the same ``sampling``."""
    frame = read(manifest)
    if frame.empty or schema.SAMPLING not in frame.columns or schema.FRAME not in frame.columns:
        return {}
    mine = frame[(frame[schema.SOURCE] == "frames") & (frame[schema.SAMPLING] == sampling)
                 & (frame[schema.STATUS] == schema.OK) & frame[schema.FRAME].notna()]
    points: dict[str, ResumePoint] = {}
    for video, rows in mine.groupby(schema.VIDEO):
        last = rows.loc[rows[schema.FRAME].astype("int64").idxmax()]
        points[str(video)] = ResumePoint(int(last[schema.FRAME]), scene_number(last[schema.SCENE]))
    return points


def file_stamp(video: str | os.PathLike[str]) -> dict[str, int]:
    """A video file's size and modification time (what tells an unchanged file); empty if missing."""
    try:
        stat = Path(video).stat()
    except OSError:
        return {}
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _unchanged(video: str, entry: dict[str, Any]) -> bool:
    stamp = file_stamp(video)
    return bool(stamp) and entry.get("size") == stamp["size"] and entry.get("mtime_ns") == stamp["mtime_ns"]


def logged_videos(manifest: str | os.PathLike[str], sampling: str) -> dict[str, dict[str, Any]]:
    """Videos the lineage log records as finished with ``sampling`` (manifests older than the archive)."""
    done: dict[str, dict[str, Any]] = {}
    for entry in lineage_entries(manifest):
        for video, info in (entry.get("details") or {}).get("videos", {}).items():
            if info.get("sampling") == sampling and info.get("status") in (schema.OK, schema.DAMAGED):
                done[video] = info
    return done


def finished_videos(sink: RowSink, sampling: str) -> dict[str, dict[str, Any]]:
    """Videos finished with the same ``sampling`` and unchanged since, by the manifest's archive.

    Without any ``frames`` record in the archive, the lineage log is read and its records are
    marked in the archive (written with the run's first flush)."""
    if sink.archive.has(SOURCE):
        done = sink.archive.entries(SOURCE, sampling)
    else:
        done = logged_videos(sink.path, sampling)
        for video, info in done.items():
            sink.mark(SOURCE, video, sampling, info)
    return {video: info for video, info in done.items() if _unchanged(video, info)}
