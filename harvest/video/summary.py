"""What ``harvest frames`` did: a :class:`VideoResult` per video and the run's :class:`FramesSummary`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from manifests import schema

from ..folderscan import shown
from ..summary import RunSummary
from .scenelist import SceneSpan


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
    skipped: bool = False  # finished by an earlier run with the same options: nothing decoded
    scene_list: list[SceneSpan] = field(default_factory=list)  # its scenes (this run's part of it)

    def details(self) -> dict[str, Any]:
        return {"status": self.status, "error": self.error, "decoded": self.decoded, "kept": self.kept,
                "dropped": self.dropped, "scenes": self.scenes, **self.crop,
                "resumed_at": self.resumed_at}


@dataclass
class FramesSummary(RunSummary):
    """A frames run: the counts, plus each video's result and the frames dropped as dark."""

    videos: dict[str, VideoResult] = field(default_factory=dict)
    scenes_csv: str | None = None  # where --scenes-csv wrote the scene list

    def add_video(self, name: str, result: VideoResult, label: str | None) -> None:
        """Count one video's rows (a skipped video's frames count as already present)."""
        self.videos[name] = result
        tag = label or shown(Path(Path(name).stem))  # a byte of another encoding shown escaped
        if result.skipped:
            self.known += result.kept
            return
        for _ in range(result.kept):
            self.record(tag, schema.OK)
        if result.status != schema.OK:
            self.record(tag, result.status)

    @property
    def dropped_frames(self) -> dict[str, int]:
        dropped: dict[str, int] = {}
        for result in self.videos.values():
            for reason, count in result.dropped.items():
                dropped[reason] = dropped.get(reason, 0) + count
        return dropped

    @property
    def failed_videos(self) -> list[str]:
        return [str(r.error) for r in self.videos.values() if r.status != schema.OK]

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "dropped_frames": self.dropped_frames,
                "videos": {name: r.details() | {"skipped": r.skipped} for name, r in self.videos.items()},
                "failed_videos": self.failed_videos, "scenes_csv": self.scenes_csv}

    def lines(self) -> list[str]:
        out = []
        for name, video in self.videos.items():
            if video.skipped:
                out.append(f"{name}: finished earlier with the same options, nothing decoded")
            elif video.crop.get("crop"):
                out.append(f"{name}: {video.decoded} frames decoded, {video.kept} kept, "
                           f"{video.scenes} scenes, crop {video.crop['crop']}")
        if self.scenes_csv:
            out.append(f"scene list written to {self.scenes_csv}")
        if self.dropped_frames:
            shown = ", ".join(f"{n} {reason}" for reason, n in sorted(self.dropped_frames.items()))
            out.append(f"dropped {shown} frames (--keep-dark keeps them)")
        return out

    def errors(self) -> list[str]:
        return self.failed_videos

    def warn_empty(self, start: float | None, end: float | None) -> None:
        """A warning for each readable video that gave no frame at all (``--start`` past its end)."""
        asked = " ".join(f"--{k} {v:g}" for k, v in (("start", start), ("end", end)) if v is not None)
        for name, video in self.videos.items():
            if not video.skipped and video.status == schema.OK and video.decoded == 0:
                self.warnings.append(f"{name}: no frame in the range asked for"
                                     f"{f' ({asked})' if asked else ''}; is --start past the end "
                                     "of the video?")
