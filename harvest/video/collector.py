"""``harvest frames``: the frames collector, over several videos, on one path for every executor.

:class:`FramesCollector` runs the per-video pipeline (:func:`harvest.video.pipeline.harvest_video`)
over its videos with :func:`manifests.executor.run_partitions`, one video per task, as ``harvest
folder`` runs its files: on threads of this process (PyAV decodes in-process on libav's own threads;
rows reach the manifest as frames are decoded, so an interrupted run resumes from the last frame
written) or on a Dask executor's workers (:mod:`harvest.video.remote`: each task hands its video's
rows back). It skips videos the manifest's archive records as finished with the same options and
resumes the others from their last frame in the manifest (:mod:`harvest.video.resume`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from manifests import RowSink, schema
from manifests.executor import ExecutorSpec, run_partitions
from manifests.progress import Progress, or_none

from ..collector import Collector
from ..folderscan import shown
from .options import FrameOptions, FramesOptions
from .pipeline import SOURCE, harvest_video
from .probe import check_hwaccel, require_ffmpeg
from .remote import VideoTask, run_task
from .resume import file_stamp, finished_videos, resume_points, video_key
from .scenelist import merge_scene_lists, read_scenes_csv, write_scenes_csv
from .summary import FramesSummary, VideoResult

__all__ = ["FrameOptions", "FramesCollector", "FramesOptions", "harvest_video"]

Outcome = tuple[VideoResult, list[dict[str, Any]]]


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
        progress.total(len(opts.videos), "videos")
        results: dict[str, VideoResult] = {}
        for video in opts.videos:
            key = video_key(video)
            if key in done:
                results[key] = VideoResult(key, skipped=True, kept=done[key].get("kept", 0),
                                           status=done[key].get("status") or schema.OK,
                                           error=done[key].get("error"))
                progress.advance()
        tasks = [VideoTask(video_key(v), opts.frames, str(sink.path.parent), opts.label,
                           points.get(video_key(v))) for v in opts.videos if video_key(v) not in done]
        results.update(self._run_tasks(tasks, shared, progress, sampling))
        for video in opts.videos:
            summary.add_video(str(video), results[video_key(video)], opts.label)
        sink.flush()
        if opts.scenes_csv is not None:
            ours = {r.video: r.scene_list for r in summary.videos.values() if not r.skipped}
            summary.scenes_csv = str(write_scenes_csv(opts.scenes_csv, merge_scene_lists(earlier, ours)))
        summary.merge = sink.stats
        summary.warn_empty(opts.frames.start, opts.frames.end)
        sink.details["videos"] = {r.video: {**r.details(), "sampling": sampling, **file_stamp(r.video)}
                                  for r in summary.videos.values() if not r.skipped}  # audit trail
        return summary

    def _run_tasks(self, tasks: list[VideoTask], shared: _LockedSink, progress: Progress,
                   sampling: str) -> dict[str, VideoResult]:
        """One video per task with :func:`run_partitions`: threads here, or the Dask executor's workers
        (whose rows come back with the result); each finished video is marked so a rerun skips it."""
        opts = self.options
        spec = opts.executor if opts.executor is not None and opts.executor.distributed \
            else ExecutorSpec(workers=opts.workers)
        cancel = threading.Event()
        work: Callable[[VideoTask], Outcome] = run_task if spec.distributed else \
            self._local(shared, progress, cancel)
        results: dict[str, VideoResult] = {}
        try:
            for task, (result, rows) in zip(tasks, run_partitions(work, tasks, spec, processes=False),
                                            strict=True):
                for row in rows:
                    shared.add(row)
                if result.status in (schema.OK, schema.DAMAGED):  # finished: a rerun skips it
                    shared.mark(task.video, sampling, {**result.details(), **file_stamp(task.video)})
                results[task.video] = result
                progress.advance()
        except BaseException:  # Ctrl-C: stop the other local workers between two frames
            cancel.set()
            raise
        return results

    @staticmethod
    def _local(shared: _LockedSink, progress: Progress, cancel: threading.Event
               ) -> Callable[[VideoTask], Outcome]:
        """The task on a thread of this process: rows go straight to the shared sink as they come."""

        def one(task: VideoTask) -> Outcome:
            if cancel.is_set():
                raise KeyboardInterrupt
            result = harvest_video(task.video, task.options, shared, store_root=Path(task.store_root),
                                   label=task.label, resume=task.resume, cancel=cancel,
                                   progress=progress.task(shown(Path(Path(task.video).name))))
            return result, []

        return one
