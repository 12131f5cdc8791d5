"""Progress bars for ``harvest frames``: one bar per video, frames decoded out of all, frames kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from manifests.console import err_console


class _VideoBar:
    def __init__(self, bar: Progress, task: Any) -> None:
        self._bar, self._task = bar, task

    def update(self, decoded: int, kept: int, total: int | None) -> None:
        self._bar.update(self._task, completed=decoded, total=total, kept=kept)


class FrameBars:
    """``bars(video)`` gives a bar for one video; safe to call from worker threads."""

    def __init__(self, enabled: bool = True) -> None:
        self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("decoded, {task.fields[kept]} kept"), TimeElapsedColumn(),
                             console=err_console, disable=not enabled)

    def __call__(self, video: Path) -> _VideoBar:
        return _VideoBar(self._bar, self._bar.add_task(Path(video).name, total=None, kept=0))

    def __enter__(self) -> FrameBars:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()
