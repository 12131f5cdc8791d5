"""The ffmpeg pipe decoder (``--decoder ffmpeg``) on what mutation testing found unchecked
(docs/testing.md): the scan-only pass of ``--frames-per-scene N`` (scenes scored over every frame, no
frame kept) finds the clip's hard cut and its end, so the second pass keeps the middle frame of each
scene, with that scene's colour; a pass left on an error (an interrupt) stops ffmpeg and reaps it
instead of waiting on it; a cropped pass of a 24 fps clip keeps every kept frame's box as ffmpeg's own
crop filter gives it, and a cropped and scaled one every quarter second its crop and scale; ffmpeg's
device lines under ``--hwaccel auto`` are debug lines (exactly those ffmpeg prints), as is the
command line, while the damage is still errors, at frames of the pass; a software pass keeps an error
line that names a file called like a hardware API (``drm_...``); rows kept every N seconds say so in
their ``sampling`` column."""

from __future__ import annotations

import csv
import io
import logging
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harvest.cli import main
from harvest.video.decode import HWACCEL_NOISE, DecodePlan, Selection, VideoDecoder
from harvest.video.decoders import open_decoder
from harvest.video.probe import CropBox, probe
from harvest.video.scenelist import scan_scenes
from manifests import schema
from tests.fixtures.video import corrupt, make_video

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


@pytest.fixture(scope="module")
def quarter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 20 frames at 24 fps (not ffmpeg's default 25) of testsrc2 (each frame differs from the next)
    # with a blue quarter at the bottom right
    return make_video(tmp_path_factory.mktemp("decode_ffmpeg") / "quarter.mp4", [("testsrc2", 20)],
                      size=SIZE, rate=24, post="drawbox=x=32:y=24:w=32:h=24:color=blue:t=fill")


def test_a_cropped_pass_at_24_fps_keeps_the_boxs_pixels_of_every_frame(quarter: Path) -> None:
    video = quarter
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


def test_a_file_named_like_a_hardware_api_keeps_its_error(two_shots: Path, tmp_path: Path) -> None:
    # software decoding: a line naming "drm_free_clip.mp4" is ffmpeg's reason, not hardware noise
    video = tmp_path / "drm_free_clip.mp4"
    video.write_bytes(two_shots.read_bytes())
    info = probe(video)
    video.write_bytes(b"not a video any more " * 64)  # replaced between probe and decode
    plan = DecodePlan(Selection(every=2), CropBox(*SIZE), SIZE, decoder="ffmpeg")
    with open_decoder(info, plan) as dec:
        assert list(dec) == []
        assert dec.finish() not in (0, None)
    assert any("drm_free_clip.mp4" in reason and "Invalid data" in reason for _, reason in dec.state.errors)


def _lines(text: str) -> list[str]:
    """ffmpeg's message lines with the object addresses (``@ 0x55...``) that differ run to run masked."""
    return sorted(re.sub(r"0x[0-9a-f]+", "0x", line.strip()) for line in text.splitlines() if line.strip())


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 50 frames whose middle bytes are overwritten: decoding errors from about frame 16
    return corrupt(make_video(tmp_path_factory.mktemp("decode_ffmpeg") / "damaged.mp4", [("testsrc2", 50)],
                              size=SIZE))


def test_hwaccel_auto_device_lines_are_debug_lines_and_the_damage_still_errors(
        damaged: Path, caplog: pytest.LogCaptureFixture) -> None:
    video = damaged
    plan = DecodePlan(Selection(every=5), CropBox(*SIZE), SIZE, hwaccel="auto", decoder="ffmpeg")
    caplog.set_level(logging.DEBUG, logger="harvest.video.decode")
    with open_decoder(probe(video), plan) as dec:
        assert len(list(dec)) == 10
        assert dec.finish() == 0
    # the oracle: what ffmpeg itself prints about devices when asked for -hwaccel auto on this machine
    said = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-hwaccel", "auto", "-i", str(video),
                           "-f", "null", "-"], capture_output=True, text=True).stderr
    device = [line for line in _lines(said) if HWACCEL_NOISE.search(line)]
    prefix = "ffmpeg hwaccel: "
    debug = [r.getMessage()[len(prefix):] for r in caplog.records if r.getMessage().startswith(prefix)]
    assert _lines("\n".join(debug)) == device  # none where a device works, each where one failed
    # and -vv shows the command line ffmpeg was started with
    run = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ffmpeg: ")]
    assert len(run) == 1 and run[0].startswith("ffmpeg: ffmpeg -hwaccel auto -i ") and str(video) in run[0]
    assert " pipe:1 " in run[0] and run[0].endswith(" -nostdin -hide_banner -nostats -loglevel error")
    assert dec.state.errors and not any(HWACCEL_NOISE.search(reason) for _, reason in dec.state.errors)


def test_errors_of_a_pass_from_a_later_frame_are_at_frames_of_that_pass(damaged: Path) -> None:
    plan = DecodePlan(Selection(every=5), CropBox(*SIZE), SIZE, start=10, decoder="ffmpeg")
    with open_decoder(probe(damaged), plan) as dec:
        assert [i for i, _ in dec] == [10, 15, 20, 25, 30, 35, 40, 45]
        dec.finish()
    at = [i for i, _ in dec.state.errors]
    assert at and all(10 <= i <= 50 for i in at) and max(at) > 10, at  # counted from the pass's start


def test_a_cropped_and_scaled_pass_every_quarter_second_keeps_ffmpegs_scaled_box(quarter: Path) -> None:
    box = CropBox(w=32, h=24, x=28, y=20)
    plan = DecodePlan(Selection(seconds=0.25), box, (16, 12), decoder="ffmpeg")
    with open_decoder(probe(quarter), plan) as dec:
        kept = list(dec)
        assert dec.finish() == 0 and dec.state.mismatch() is None
    assert [i for i, _ in kept] == [0, 6, 12, 18]  # 6 frames a slot at 24 fps
    truth = _ffmpeg_frames(quarter, f"crop={box.w}:{box.h}:{box.x}:{box.y},scale=16:12", (16, 12))
    for i, rgb in kept:
        assert rgb.shape == (12, 16, 3)
        assert np.abs(rgb.astype(int) - truth[i]).mean() < 1, i


def test_every_seconds_rows_name_their_sampling(quarter: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.csv"
    try:
        code = main(["frames", str(quarter), "--every-seconds", "0.5", "--decoder", "ffmpeg",
                     "--crop", "none", "-m", str(manifest)])
    except SystemExit as exc:
        code = int(exc.code or 0)
    assert code == 0
    with open(manifest, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [int(r[schema.FRAME]) for r in rows] == [0, 12]  # the first frame of each 12-frame slot (24 fps)
    # another interval would be another run
    assert {r[schema.SAMPLING].split()[0] for r in rows} == {"every_seconds=0.5"}


def test_a_torn_last_thumbnail_is_not_counted(two_shots: Path) -> None:
    # ffmpeg killed mid-frame leaves part of a thumbnail on the pipe: the whole ones are scored, the
    # torn one is no decoded frame
    info = probe(two_shots)
    box = CropBox(info.width, info.height)
    decoder = VideoDecoder(info, DecodePlan(Selection(every=5), box, (box.w, box.h)))
    w, h = decoder.thumb
    frame = w * h * 3
    torn = (bytes(range(256)) * (frame * 3 // 256 + 1))[: frame * 5 // 2]  # two and a half frames
    decoder._thumbs(io.BytesIO(torn))
    assert decoder.state.decoded == 2 and decoder.state.numbered == 2


def test_a_pass_after_every_listed_frame_keeps_nothing_and_ends_well(two_shots: Path) -> None:
    # frames-per-scene's list lies wholly before a pass from a later frame: ffmpeg's select keeps
    # nothing ("0") and decodes the rest of the video without an error
    info = probe(two_shots)
    box = CropBox(info.width, info.height)
    plan = DecodePlan(Selection(frames=frozenset({2, 7}), per_scene=1), box, (box.w, box.h), start=10,
                      decoder="ffmpeg")
    assert plan.selection.expression(10, info.fps) == "0"
    with VideoDecoder(info, plan) as decoder:
        assert list(decoder) == []
        assert decoder.finish() == 0
    assert decoder.state.errors == [] and decoder.state.decoded == info.frames - 10
    assert decoder.state.mismatch() is None
