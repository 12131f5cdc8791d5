"""The one progress protocol: every implementation takes the same calls, the rich one shows them."""

from __future__ import annotations

import pytest

from manifests.console import RichProgress
from manifests.progress import NoProgress, Progress, or_none


def drive(progress: Progress) -> None:
    progress.total(3, "videos")
    bar = progress.task("clip.mp4", total=10)
    bar.total(10, "clip.mp4: 2 kept")
    bar.advance(4)
    bar.done()
    epoch = progress.task("epoch 1/2", 5, transient=True)
    epoch.advance(5)
    epoch.done()
    progress.note("epoch 1: val acc 0.500")
    progress.advance()


@pytest.mark.parametrize("make", [NoProgress, lambda: RichProgress(enabled=False)])
def test_every_implementation_takes_the_protocol(make) -> None:
    drive(make())
    assert isinstance(or_none(None), NoProgress)


def test_rich_progress_shows_bars_and_notes(capsys) -> None:
    with RichProgress(enabled=True) as progress:
        drive(progress)
    err = capsys.readouterr().err
    assert "epoch 1: val acc 0.500" in err and "clip.mp4: 2 kept" in err
    assert "epoch 1/2" not in err.split("epoch 1: val acc")[-1]  # the transient epoch bar is gone
    with RichProgress(enabled=False) as quiet:
        drive(quiet)
    assert capsys.readouterr().err == ""
