"""Crop detection samples: decoding only the chosen key frames gives the frames of the full key-frame pass."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from harvest.video import probe as video
from tests.fixtures.video import make_video

# 240 frames at 25 fps with a key frame every 10: 24 key frames, one every 0.8 s (about) is sampled.
SEGMENTS = [("testsrc2", 80), ("mandelbrot", 80), ("sierpinski=seed=3", 80)]


@pytest.fixture(scope="module")
def boxed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("v") / "boxed.mp4", SEGMENTS, size=(160, 96),
                      post="pad=160:120:0:12")


def test_chosen_key_packets_follow_the_time_rule(boxed: Path) -> None:
    info = video.probe(boxed)
    # 2.4 - 1.6 < 0.8 in floating point: ffmpeg's select skips the key frame at 2.4 s, and so do we
    assert video._chosen_key_packets(info) == [0, 20, 40, 70, 100, 130, 160, 190, 220]


def test_only_the_chosen_key_frames_are_decoded_and_they_are_the_same(
        boxed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = video.probe(boxed)
    full, full_lines = video._sample_frames(info, key_frames_only=True)
    with monkeypatch.context() as patch:  # the fast path must not quietly fall back to the full pass
        patch.setattr(video, "_sample_frames", lambda *a, **k: pytest.fail("fell back to the full pass"))
        fast, fast_lines = video._key_samples(info)
    assert len(fast) == len(full) == 9
    assert all(np.array_equal(a, b) for a, b in zip(fast, full, strict=True))
    crop = [line.rsplit("crop=", 1)[1] for line in fast_lines]
    assert crop == [line.rsplit("crop=", 1)[1] for line in full_lines]
    assert str(video.detect_crop(info).box) == "160:96:0:12"


def test_a_rotated_video_takes_the_full_key_frame_pass(boxed: Path, tmp_path: Path) -> None:
    rotated = tmp_path / "rotated.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(boxed), "-c", "copy", "-metadata:s:v:0",
                    "rotate=90", str(rotated)], check=True)
    info = video.probe(rotated)
    assert (info.width, info.height) == (120, 160)
    assert video._chosen_key_packets(info) is None
    frames, _ = video._key_samples(info)
    assert len(frames) == 9 and frames[0].shape == (160, 120, 3)
    assert str(video.detect_crop(info).box) == "96:160:12:0"


def test_a_codec_that_decodes_every_frame_keeps_the_full_pass(tmp_path: Path) -> None:
    vp9 = make_video(tmp_path / "vp9.webm", SEGMENTS[:2], codec="libvpx-vp9")
    info = video.probe(vp9)
    fast, _ = video._key_samples(info)
    full, _ = video._sample_frames(info, key_frames_only=True)
    assert len(fast) == len(full) and all(np.array_equal(a, b) for a, b in zip(fast, full, strict=True))
