"""``harvest frames`` on an executor's workers (``--executor dask``): one video per task.

Each task decodes its video on a worker, stores the kept frames in the image store under the dataset
folder (which the workers must see at the same path as the driver) and returns the rows; the driver
writes them to the manifest (:class:`harvest.video.collector.FramesCollector` runs these tasks and
its local ones on the same :func:`manifests.executor.run_partitions` path). A lost worker's video is
decoded again by another worker (the image store never writes the same bytes twice), and a video
whose rows never reached the manifest is simply done again by the next run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .options import FrameOptions
from .pipeline import harvest_video
from .resume import ResumePoint
from .summary import VideoResult


@dataclass(frozen=True)
class VideoTask:
    """One video for a worker: where it is, how to take frames, where the dataset lives."""

    video: str
    options: FrameOptions
    store_root: str
    label: str | None = None
    resume: ResumePoint | None = None


class _ListSink:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(dict(row))


def run_task(task: VideoTask) -> tuple[VideoResult, list[dict[str, Any]]]:
    """Harvest one video on this process and hand back its result and rows."""
    sink = _ListSink()
    result = harvest_video(task.video, task.options, sink, store_root=Path(task.store_root),
                           label=task.label, resume=task.resume)
    return result, sink.rows
