"""Both decoders of a ``harvest frames`` pass (``pyav`` and ``ffmpeg``) on what mutation testing found
unchecked (docs/testing.md): the pass's scene rules and first scene number reach the scene tracker (a
hard cut between two colours found by default, ignored under a minimum scene length longer than the
clip; kept frames numbered from ``first_scene``), and a file that no longer opens gives no frame, a
failed exit code and one error at the pass's start frame carrying the decoder's reason; a container
whose timestamps start late (MPEG-TS: 1.4 s) still numbers frames from 0; a video shown turned by 180
degrees (same coded and shown size, nothing to crop) comes out upright, as ffmpeg shows it; a pass
from 9 s into an MP4 on the 90 kHz clock keeps its start frame's pixels, as ffmpeg decodes them from
the start (the ffmpeg pipe's input seek must not land even microseconds after that frame); a clip
with a sound track gives its video frames only, as ffmpeg decodes them; each packet PyAV refuses in a
damaged clip is one decoding error and one ``-vv`` debug line naming the file and libav's reason; a
video replaced by a sound file fails PyAV's pass with "no video stream"; a kept frame scaled by PyAV is
ffmpeg's bicubic ``scale`` of it, as the pipe's; PyAV's scene thumbnails average the pixels they cover
in both directions (a slow diagonal pan over fine noise stays one scene); under ``--sampling keyframes``
each decoded frame nearest to a target is kept once, the last one also for a target after it (ffmpeg's
``-skip_frame nokey`` the oracle); an exact pass over a clip whose last frames are lost ends after the
last frame it decoded, not at the frame count the container announces; a crop is ffmpeg's ``crop`` of
the frame, and a scan-only pass (the first pass of frames-per-scene) finds the scenes and keeps none."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import numpy as np
import pytest

from harvest.video.decode import DecodePlan, Selection
from harvest.video.decoders import DECODERS, open_decoder
from harvest.video.probe import CropBox, probe
from harvest.video.scenes import SceneRules
from tests.fixtures.video import corrupt, make_audio, make_video

SIZE = (64, 48)


@pytest.fixture(scope="module")
def two_shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 25 red frames, then 25 blue ones: one hard cut, at frame 25
    return make_video(tmp_path_factory.mktemp("decoders") / "shots.mp4",
                      [("color=c=red", 25), ("color=c=blue", 25)], size=SIZE)


def _scenes(video: Path, decoder: str, rules: SceneRules) -> dict[int, int]:
    info = probe(video)
    plan = DecodePlan(Selection(every=10), CropBox(*SIZE), SIZE, rules=rules, first_scene=5, decoder=decoder)
    with open_decoder(info, plan) as dec:
        kept = [index for index, _ in dec]
        assert dec.finish() == 0
    assert kept == [0, 10, 20, 30, 40]
    return {i: dec.state.scenes[i] for i in kept}


@pytest.mark.parametrize("decoder", sorted(DECODERS))
def test_the_plans_scene_rules_and_first_scene_number_the_kept_frames(two_shots: Path, decoder: str) -> None:
    assert _scenes(two_shots, decoder, SceneRules()) == {0: 5, 10: 5, 20: 5, 30: 6, 40: 6}
    assert _scenes(two_shots, decoder, SceneRules(min_scene_len=60)) == {0: 5, 10: 5, 20: 5, 30: 5, 40: 5}


@pytest.mark.parametrize("decoder", sorted(DECODERS))
def test_a_pass_from_a_later_frame_keeps_those_frames_pixels(two_shots: Path, decoder: str) -> None:
    plan = DecodePlan(Selection(every=5), CropBox(*SIZE), SIZE, start=15, end=35, decoder=decoder)
    with open_decoder(probe(two_shots), plan) as dec:
        kept = list(dec)
        assert dec.finish() == 0
    assert [i for i, _ in kept] == [15, 20, 25, 30]
    for i, rgb in kept:  # frames 0-24 are red, 25-49 blue
        red, blue = rgb.reshape(-1, 3).mean(0)[[0, 2]]
        assert (red > blue) == (i < 25), i


@pytest.mark.parametrize("decoder", sorted(DECODERS))
def test_a_file_that_no_longer_opens_fails_the_pass_with_the_decoders_reason(tmp_path: Path,
                                                                           decoder: str) -> None:
    video = make_video(tmp_path / "gone.mp4", [("color=c=red", 10)], size=SIZE)
    info = probe(video)
    video.write_bytes(b"not a video any more " * 64)  # replaced between probe and decode
    plan = DecodePlan(Selection(every=2), CropBox(*SIZE), SIZE, start=4, decoder=decoder)
    with open_decoder(info, plan) as dec:
        assert list(dec) == []
        code = dec.finish()
    assert code == 1 if decoder == "pyav" else code not in (0, None)  # pyav: 1, documented
    assert dec.state.errors and all(at == 4 for at, _ in dec.state.errors)
    assert any("Invalid data found" in reason for _, reason in dec.state.errors), dec.state.errors


def _halves(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean colour of the top and the bottom half."""
    h = rgb.shape[0] // 2
    return rgb[:h].reshape(-1, 3).mean(0), rgb[h:].reshape(-1, 3).mean(0)


def _kept(video: Path, decoder: str, every: int) -> list[tuple[int, np.ndarray]]:
    info = probe(video)
    plan = DecodePlan(Selection(every=every), CropBox(info.width, info.height), (info.width, info.height),
                      decoder=decoder)
    with open_decoder(info, plan) as dec:
        kept = list(dec)
        assert dec.finish() == 0 and dec.state.decoded == 20 and not dec.state.errors
    return kept


@pytest.mark.parametrize("decoder", sorted(DECODERS))
def test_frames_are_numbered_from_0_when_the_container_starts_late(tmp_path: Path, decoder: str) -> None:
    video = make_video(tmp_path / "late.ts", [("color=c=red", 10), ("color=c=blue", 10)], size=SIZE)
    start = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=start_time", "-of", "csv=p=0",
                            str(video)], capture_output=True, text=True, check=True).stdout
    assert float(start) > 1  # MPEG-TS's usual 1.4 s
    kept = _kept(video, decoder, 5)
    assert [i for i, _ in kept] == [0, 5, 10, 15]
    for i, rgb in kept:
        red, blue = rgb.reshape(-1, 3).mean(0)[[0, 2]]
        assert (red > blue) == (i < 10), i


@pytest.mark.parametrize("decoder", sorted(DECODERS))
def test_a_video_shown_turned_by_180_degrees_comes_out_as_ffmpeg_shows_it(tmp_path: Path,
                                                                          decoder: str) -> None:
    coded = make_video(tmp_path / "coded.mp4", [("color=c=red", 20)], size=SIZE,
                       post="drawbox=x=0:y=0:w=64:h=24:color=blue:t=fill")  # blue on top as coded
    turned = tmp_path / "turned.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(coded), "-c", "copy", "-metadata:s:v", "rotate=180",
                    str(turned)], check=True)
    shown = subprocess.run(["ffmpeg", "-v", "error", "-i", str(turned), "-frames:v", "1", "-f", "rawvideo",
                            "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    want = _halves(np.frombuffer(shown, np.uint8).reshape(SIZE[1], SIZE[0], 3))
    assert want[0][0] > want[0][2] and want[1][2] > want[1][0]  # ffmpeg shows it red on top
    (index, rgb), = _kept(turned, decoder, 30)
    assert index == 0 and rgb.shape == (SIZE[1], SIZE[0], 3)
    for got, expected in zip(_halves(rgb), want, strict=True):
        assert np.abs(got - expected).max() < 12


@pytest.fixture(scope="module")
def clock_90k(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 50 frames at 5 fps, frame N a flat grey of luma 20 + 4 N; timestamps in 1/90000 s, the MPEG clock
    # many cameras' MP4s use (one tick is 11.1 us: a seek 9 us late rounds to a tick after frame 45, 9 s)
    path = tmp_path_factory.mktemp("clock") / "90k.mp4"
    grey = "color=size=16x16:rate=5,geq=lum=20+4*N:cb=128:cr=128"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", grey, "-frames:v", "50", "-c:v", "libx264",
                    "-g", "10", "-pix_fmt", "yuv420p",
                    "-video_track_timescale", "90000", str(path)], check=True)
    return path


@pytest.mark.parametrize("decoder", sorted(DECODERS))
@pytest.mark.parametrize(("start", "end"), [(45, 48), (47, None)])
def test_a_pass_from_seconds_in_keeps_its_start_frames_pixels_on_a_90khz_clock(clock_90k: Path, decoder: str,
                                                                                start: int,
                                                                                end: int | None) -> None:
    """Also a pass from the clip's last three frames, which PyAV hands out together when the file ends,
    the frames before ``start`` first."""
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(clock_90k), "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout  # all, from 0
    truth = np.frombuffer(raw, np.uint8).reshape(-1, 16 * 16 * 3).mean(1)
    assert len(truth) == 50 and np.diff(truth).min() > 3  # each frame a lighter grey
    plan = DecodePlan(Selection(every=1), CropBox(16, 16), (16, 16), start=start, end=end, decoder=decoder)
    with open_decoder(probe(clock_90k), plan) as dec:
        kept = list(dec)
        assert dec.finish() == 0
    assert [i for i, _ in kept] == list(range(start, end or 50))
    for i, rgb in kept:
        assert abs(rgb.mean() - truth[i]) < 1.5, (i, rgb.mean(), truth[i - 1:i + 2])


@pytest.mark.parametrize("decoder", sorted(DECODERS))
def test_a_clip_with_a_sound_track_gives_its_video_frames_as_ffmpeg_decodes_them(tmp_path: Path,
                                                                                 decoder: str) -> None:
    video = tmp_path / "sound.mp4"  # 20 frames, frame N a flat grey of luma 20 + 8 N, and a tone
    grey = "color=size=16x16:rate=25,geq=lum=20+8*N:cb=128:cr=128"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", grey, "-f", "lavfi",
                    "-i", "sine=frequency=440:sample_rate=8000", "-frames:v", "20",
                    "-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
                    str(video)], check=True)
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-map", "0:v", "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    truth = np.frombuffer(raw, np.uint8).reshape(-1, 16 * 16 * 3).mean(1)
    assert len(truth) == 20 and np.diff(truth).min() > 6
    plan = DecodePlan(Selection(every=1), CropBox(16, 16), (16, 16), decoder=decoder)
    with open_decoder(probe(video), plan) as dec:
        kept = list(dec)
        assert dec.finish() == 0 and not dec.state.errors
    assert [i for i, _ in kept] == list(range(20))
    for i, rgb in kept:
        assert abs(rgb.mean() - truth[i]) < 2, (i, rgb.mean(), truth[max(0, i - 1):i + 2])


@pytest.mark.parametrize(("span", "kept_frames", "at", "refused_packets"), [
    ((0.4, 0.55), [0, 10, 20], range(1, 10), True),  # the middle: packets refused after frame 0
    ((0.05, 0.2), [10, 20], range(1), True),  # the first frames: refused before any frame decoded
    ((0.15, 0.16), [0, 10, 20], range(1), False),  # the first frame: decoded, concealed, flagged
])
def test_each_packet_pyav_refuses_is_an_error_and_a_debug_line(tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture,
                                                              span: tuple[float, float],
                                                              kept_frames: list[int], at: range,
                                                              refused_packets: bool) -> None:
    """Bytes overwritten in a clip: the pass goes on to the end; each refused packet and each frame
    decoded with errors is an error at the frame decoded last before it (the pass's start when none
    was), a refused packet also a debug line ``FILE: REASON``; a pass that ends before the damage
    stops decoding there and counts none, and one that starts after it seeks past it."""
    video = corrupt(make_video(tmp_path / "damaged.mp4", [("testsrc2", 30)], size=SIZE), *span)
    plan = DecodePlan(Selection(every=10), CropBox(*SIZE), SIZE, decoder="pyav")
    with caplog.at_level(logging.DEBUG, "harvest.video.avdecode"), open_decoder(probe(video), plan) as dec:
        assert [i for i, _ in dec] == kept_frames
        assert dec.finish() == 0
    assert dec.state.end == 30 and dec.state.errors
    assert all(type(index) is int and index in at for index, _ in dec.state.errors), dec.state.errors
    refused = [reason for _, reason in dec.state.errors if reason != "corrupt frame"]
    assert bool(refused) == refused_packets
    assert all("Invalid data found" in reason for reason in refused), dec.state.errors
    lines = [r.getMessage() for r in caplog.records if r.name == "harvest.video.avdecode"]
    assert lines == [f"{video}: {reason}" for reason in refused]
    if at.start > 0:
        plan = DecodePlan(Selection(every=10), CropBox(*SIZE), SIZE, end=5, decoder="pyav")
        with open_decoder(probe(video), plan) as dec:
            assert [i for i, _ in dec] == [0]
            assert dec.finish() == 0
        assert dec.state.errors == [] and dec.state.end == 5
        plan = DecodePlan(Selection(every=10), CropBox(*SIZE), SIZE, start=20, decoder="pyav")
        with open_decoder(probe(video), plan) as dec:  # from the key frame after the damage
            assert [i for i, _ in dec] == [20]
            assert dec.finish() == 0
        assert dec.state.errors == [] and dec.state.end == 30


def test_a_video_replaced_by_a_sound_file_fails_the_pyav_pass_with_no_video_stream(tmp_path: Path) -> None:
    video = make_video(tmp_path / "clip.mp4", [("color=c=red", 10)], size=SIZE)
    info = probe(video)
    video.write_bytes(make_audio(tmp_path / "tone.m4a").read_bytes())  # replaced after the probe
    plan = DecodePlan(Selection(every=2), CropBox(*SIZE), SIZE, start=4, decoder="pyav")
    with open_decoder(info, plan) as dec:
        assert list(dec) == []
        assert dec.finish() == 1
    assert dec.state.errors == [(4, "no video stream")]


def test_a_kept_frame_scaled_by_pyav_is_ffmpegs_bicubic_scale(tmp_path: Path) -> None:
    """Closer to ffmpeg's bicubic than to its bilinear scale by far (PyAV converts to RGB in the same
    step, so neither matches to the last bit)."""
    video = make_video(tmp_path / "detail.mp4", [("testsrc2", 1)], size=(160, 120))

    def scaled(flags: str) -> np.ndarray:
        raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-vf", f"scale=40:30:flags={flags}",
                              "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                             capture_output=True, check=True).stdout
        return np.frombuffer(raw, np.uint8).reshape(30, 40, 3).astype(float)

    plan = DecodePlan(Selection(every=1), CropBox(160, 120), (40, 30), decoder="pyav")
    with open_decoder(probe(video), plan) as dec:
        (index, rgb), = list(dec)
        assert dec.finish() == 0
    bicubic, bilinear = (np.abs(rgb - scaled(flags)).mean() for flags in ("bicubic", "bilinear"))
    assert index == 0 and bicubic < 0.7 * bilinear, (bicubic, bilinear)


def test_pyav_scene_thumbnails_average_both_ways_so_a_pan_over_noise_is_one_scene(tmp_path: Path) -> None:
    """As ``test_scenes.py``'s pan for the pipe: noise finer than a thumbnail pixel panned 2 px a frame
    right and down; a thumbnail that keeps the full width or height aliases into a cut every frame."""
    still, video = tmp_path / "noise.png", tmp_path / "pan.mp4"
    noise = "color=gray:s=1280x320,noise=alls=100:allf=0"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", noise, "-frames:v", "1", str(still)],
                   check=True)
    subprocess.run(["ffmpeg", "-v", "error", "-loop", "1", "-i", str(still), "-vf",
                    "crop=640:160:x='n*2':y='n*2',format=yuv420p", "-frames:v", "24", "-r", "24",
                    "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", str(video)], check=True)
    plan = DecodePlan(Selection(every=12), CropBox(640, 160), (80, 20), decoder="pyav")
    with open_decoder(probe(video), plan) as dec:
        assert [i for i, _ in dec] == [0, 12]
        assert dec.finish() == 0
    assert dec.state.decoded == 24 and dec.state.starts == [0] and dec.state.cuts == 0


@pytest.mark.parametrize(("selection", "end", "targets", "expected"), [
    (Selection(every=7), None, [0, 7, 14, 21], [0, 10, 20]),  # 21 after the last key frame
    (Selection(frames=frozenset({0, 20, 22})), None, [0, 20, 22], [0, 20]),  # 20 kept once
    (Selection(every=15), 40, [0, 15, 30], [0, 10, 20]),  # --end past the clip's 25 frames
])
def test_keyframes_sampling_keeps_each_nearest_key_frame_once_the_last_also_for_later_targets(
        tmp_path: Path, selection: Selection, end: int | None, targets: list[int],
        expected: list[int]) -> None:
    from tests.harvest.video.test_sampling import decoded_under, nearest

    video = make_video(tmp_path / "keys.mp4", [("testsrc2", 25)], size=SIZE)  # key frames 0, 10, 20
    decoded = decoded_under(video, "nokey")
    assert decoded == [0, 10, 20]
    plan = DecodePlan(selection, CropBox(*SIZE), SIZE, end=end, sampling="keyframes", decoder="pyav")
    with open_decoder(probe(video), plan) as dec:
        kept = [i for i, _ in dec]
        assert dec.finish() == 0
    assert kept == nearest(decoded, targets) == expected


def test_an_exact_pass_over_a_clip_with_its_end_lost_ends_after_its_last_decoded_frame(tmp_path: Path
                                                                                       ) -> None:
    video = tmp_path / "tail.mp4"  # the index first (faststart), so the damage hits only the last frames
    source = f"testsrc2=size={SIZE[0]}x{SIZE[1]}:rate=25"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", source, "-frames:v", "30",
                    "-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p",
                    "-movflags", "+faststart", str(video)], check=True)
    info = probe(video)
    corrupt(video, 0.85, 1.0)
    plan = DecodePlan(Selection(every=10), CropBox(*SIZE), SIZE, decoder="pyav")
    with open_decoder(info, plan) as dec:
        list(dec)
        assert dec.finish() == 0
    assert info.frames == 30 and 10 < dec.state.decoded < 30 and dec.state.errors
    assert dec.state.end == dec.state.decoded  # frames 0 .. decoded - 1, one a slot


@pytest.mark.parametrize("decoder", sorted(DECODERS))
def test_a_crop_is_ffmpegs_crop_and_a_scan_only_pass_keeps_nothing(tmp_path: Path, two_shots: Path,
                                                                   decoder: str) -> None:
    detail = make_video(tmp_path / "detail.mp4", [("testsrc2", 1)], size=SIZE)
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(detail), "-vf", "crop=24:16:32:8",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    want = np.frombuffer(raw, np.uint8).reshape(16, 24, 3).astype(float)
    box = CropBox(24, 16, 32, 8)  # x, y, w, h all different
    with open_decoder(probe(detail), DecodePlan(Selection(every=1), box, (24, 16), decoder=decoder)) as dec:
        (index, rgb), = list(dec)
        assert dec.finish() == 0
    assert index == 0 and np.abs(rgb - want).mean() < 3, np.abs(rgb - want).mean()
    scan = DecodePlan(Selection(every=25), box, (24, 16), scan_only=True, decoder=decoder)
    with open_decoder(probe(two_shots), scan) as dec:
        assert list(dec) == []
        assert dec.finish() == 0
    assert dec.state.decoded == 50 and dec.state.starts == [0, 25]


@pytest.mark.parametrize("decoder", sorted(DECODERS))
def test_every_seconds_keeps_the_first_frame_of_each_slot(two_shots: Path, decoder: str) -> None:
    plan = DecodePlan(Selection(seconds=0.4), CropBox(*SIZE), SIZE, decoder=decoder)  # 10 frames at 25 fps
    with open_decoder(probe(two_shots), plan) as dec:
        assert [i for i, _ in dec] == [0, 10, 20, 30, 40]
        assert dec.finish() == 0


def test_pyav_scores_ffmpegs_area_thumbnails(tmp_path: Path) -> None:
    # the thumbnails scene detection scores are averaged over the pixels they cover, as ffmpeg's
    # scale=...:flags=area makes them (the pipe decoder's); a point-sampling or bilinear scaler aliases
    # fine texture (here: 640x480 noise to 96x72, where bilinear is 5.6 levels off, bicubic 4.0)
    video = make_video(tmp_path / "noise.mp4", [("testsrc2", 12)], size=(640, 480),
                       post="noise=alls=60:allf=t")
    info = probe(video)
    box = CropBox(info.width, info.height)
    decoder = open_decoder(info, DecodePlan(Selection(every=5), box, (box.w, box.h), decoder="pyav"))
    scored: list[np.ndarray] = []
    feed = decoder._tracker.feed
    decoder._tracker.feed = lambda frames: (scored.append(frames.copy()), feed(frames))[1]
    with decoder:
        list(decoder)
        decoder.finish()
    w, h = decoder.thumb
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-vf", f"scale={w}:{h}:flags=area",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    area = np.frombuffer(out, np.uint8).reshape(-1, h, w, 3)
    thumbs = np.concatenate(scored)
    assert thumbs.shape == area.shape == (12, 72, 96, 3)
    assert np.abs(thumbs.astype(int) - area).mean() < 2.5
