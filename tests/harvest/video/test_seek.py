"""Where a pass that starts mid-video seeks to (:mod:`harvest.video.seek`), checked against ffmpeg
itself: the first frame ``ffmpeg -ss`` gives for the frame chosen is that frame, in an MP4 (whose seek
lands where asked) and in an MPEG-TS clip (whose seek lands on a later key frame)."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from harvest.video.probe import probe
from harvest.video.seek import seek_frame, seek_time
from tests.fixtures.video import make_video
from tests.harvest.video.test_frames_oracle import COUNTER, coded_frames, ffprobe

FRAMES = 48


@pytest.fixture(scope="module", params=["mp4", "ts"])
def video(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("seek")
    return make_video(folder / f"clip.{request.param}", [("testsrc2", FRAMES)], post=COUNTER, gop=8)


def first_frame_after_ss(video: Path, seconds: float, shape: tuple[int, ...]) -> np.ndarray:
    """The first frame ``ffmpeg -ss`` (an accurate input seek, as the ffmpeg decoder runs it) gives."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-ss", f"{seconds:.6f}", "-i", str(video), "-frames:v",
                          "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True,
                         check=True).stdout
    return np.frombuffer(out, np.uint8).reshape(shape)


def test_ffmpeg_starts_at_the_frame_chosen(video: Path) -> None:
    info = probe(video)
    stream = ffprobe(video)
    frames = coded_frames(video, stream)
    chosen = {start: seek_frame(info, start) for start in (1, 7, 8, 9, 20, 33, 47)}
    assert all(0 <= frame <= start for start, frame in chosen.items())
    for start, frame in chosen.items():
        if frame:
            got = first_frame_after_ss(video, seek_time(info, frame) / 1e6, frames[0].shape)
            assert np.array_equal(got, frames[frame]), f"start {start}: -ss to frame {frame}"
    if video.suffix == ".mp4":  # a seek that lands where asked is taken as it is
        assert all(frame == start for start, frame in chosen.items())
    else:  # it had to go back: this is the clip where the seek cannot be trusted
        assert sum(frame < start for start, frame in chosen.items()) >= 4, chosen


def test_the_start_needs_no_seek_and_a_file_that_will_not_open_is_decoded_from_its_start(
        video: Path, tmp_path: Path) -> None:
    info = probe(video)
    assert seek_frame(info, 0) == 0
    broken = tmp_path / f"gone{video.suffix}"
    assert seek_frame(replace(info, path=broken), 20) == 0
