"""The ffmpeg pipe decoder's scan-only pass (``harvest frames --frames-per-scene N --decoder ffmpeg``,
whose first pass scores scenes over every frame and keeps none), which mutation testing found
unchecked (docs/testing.md): the scan finds the clip's hard cut and its end, so the second pass keeps
the middle frame of each scene, with that scene's colour; the scan keeps no frame of its own. A pass
left on an error (an interrupt) stops ffmpeg and reaps it instead of waiting on it. A cropped pass of a
24 fps clip keeps every kept frame's box, as ffmpeg's own crop filter gives it."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harvest.cli import main
from harvest.video.decode import DecodePlan, Selection
from harvest.video.decoders import open_decoder
from harvest.video.probe import CropBox, probe
from harvest.video.scenelist import scan_scenes
from manifests import schema
from tests.fixtures.video import make_video

SIZE = (64, 48)


@pytest.fixture(scope="module")
def two_shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 25 red frames, then 25 blue ones: one hard cut, at frame 25 (uniform: --keep-dark keeps them)
    return make_video(tmp_path_factory.mktemp("decode_ffmpeg") / "shots.mp4",
                      [("color=c=red", 25), ("color=c=blue", 25)], size=SIZE)


def test_the_scan_only_pass_finds_the_cut_and_the_end_and_keeps_nothing(two_shots: Path) -> None:
    info = probe(two_shots)
    plan = DecodePlan(Selection(every=1), CropBox(*SIZE), SIZE, decoder="ffmpeg")
    assert scan_scenes(info, plan) == ([0, 25], 50)
    scan = DecodePlan(Selection(every=1), CropBox(*SIZE), SIZE, scan_only=True, decoder="ffmpeg")
    with open_decoder(info, scan) as dec:
        assert list(dec) == []
        assert dec.finish() == 0
    assert (dec.state.decoded, dec.state.sent, dec.state.expected, dec.state.errors) == (50, 0, None, [])


def test_frames_per_scene_through_the_ffmpeg_pipe_keeps_each_scenes_middle(two_shots: Path,
                                                                           tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.csv"
    try:
        code = main(["frames", str(two_shots), "--frames-per-scene", "1", "--decoder", "ffmpeg",
                     "--crop", "none", "--keep-dark", "-m", str(manifest)])
    except SystemExit as exc:
        code = int(exc.code or 0)
    assert code == 0
    with open(manifest, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r[schema.STATUS] == schema.OK]
    assert [int(r[schema.FRAME]) for r in rows] == [12, 37]  # the middle of 0-24 and of 25-49
    for row, (red, blue) in zip(rows, [(True, False), (False, True)], strict=True):
        rgb = np.asarray(Image.open(manifest.parent / row[schema.PATH]).convert("RGB"), float)
        r, _, b = rgb.reshape(-1, 3).mean(0)
        assert (r > 128, b > 128) == (red, blue), row[schema.FRAME]


class Stop(Exception):
    pass


@pytest.mark.timeout(60)  # a pass that waits on an ffmpeg blocked writing frames nobody reads hangs
def test_leaving_a_pass_on_an_error_stops_ffmpeg(two_shots: Path) -> None:
    # 49 unread frames of 64x48 RGB (9 KiB each) fill the pipe: ffmpeg blocks until it is stopped
    plan = DecodePlan(Selection(every=1), CropBox(*SIZE), SIZE, decoder="ffmpeg")
    with pytest.raises(Stop), open_decoder(probe(two_shots), plan) as dec:
        for _ in dec:
            raise Stop
    assert dec._proc is not None and dec._proc.returncode not in (0, None)  # killed, not finished


def _ffmpeg_frames(video: Path, vf: str, size: tuple[int, int]) -> np.ndarray:
    """Every frame of ``video`` through ffmpeg's own ``-vf``, as RGB arrays (the oracle)."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-vf", vf, "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    w, h = size
    return np.frombuffer(out, np.uint8).reshape(-1, h, w, 3)


def test_a_cropped_pass_at_24_fps_keeps_the_boxs_pixels_of_every_frame(tmp_path: Path) -> None:
    # 20 frames at 24 fps (not ffmpeg's default 25) of testsrc2 (each frame differs from the next)
    # with a blue quarter at the bottom right
    video = make_video(tmp_path / "quarter.mp4", [("testsrc2", 20)], size=SIZE, rate=24,
                       post="drawbox=x=32:y=24:w=32:h=24:color=blue:t=fill")
    box = CropBox(w=32, h=24, x=28, y=20)
    plan = DecodePlan(Selection(every=5), box, (box.w, box.h), decoder="ffmpeg")
    with open_decoder(probe(video), plan) as dec:
        kept = list(dec)
        assert dec.finish() == 0
    assert dec.state.decoded == 20 and [i for i, _ in kept] == [0, 5, 10, 15]
    truth = _ffmpeg_frames(video, f"crop={box.w}:{box.h}:{box.x}:{box.y}", (box.w, box.h))
    assert len(truth) == 20
    for i, rgb in kept:
        assert rgb.shape == (24, 32, 3)
        assert np.abs(rgb.astype(int) - truth[i]).mean() < 1, i  # frame i's box, not another's
