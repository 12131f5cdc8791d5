"""Scenes like PySceneDetect (issue 15): minimum scene length, the adaptive detector, N frames per
scene, the scene list as CSV, dissolves, on generated videos whose cuts are known."""

from __future__ import annotations

import csv
import json
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from harvest.video.scenelist import pick_frames, scene_length
from manifests import read, schema
from tests.fixtures.video import make_transition, make_video
from tests.harvest.video.test_frames import SEGMENTS, harvest
from tests.harvest.video.test_frames_run import run

# A fast pan (the picture scrolls 7 % of its width a frame) between two hard cuts at 40 and 100.
PAN = [("testsrc2", 40), ("mandelbrot", 60, "scroll=h=0.07:v=0.03"), ("sierpinski=seed=3", 40)]


@pytest.fixture(scope="module")
def cut_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("v") / "cuts.mp4", SEGMENTS)  # cuts at 30 and 60


def starts(result) -> list[int]:
    return [span.start_frame for span in result.scene_list]


@pytest.mark.parametrize(("length", "expected"), [
    ("0", [0, 30, 60]), ("30", [0, 30, 60]), ("40", [0, 60]), ("1.2s", [0, 30, 60]), ("1.3s", [0, 60])])
def test_min_scene_len_in_frames_or_seconds(cut_video: Path, tmp_path: Path, length: str,
                                            expected: list[int]) -> None:
    rows, result = harvest(cut_video, tmp_path, every=10, min_scene_len=length)
    assert starts(result) == expected
    scenes = {row[schema.FRAME]: row[schema.SCENE] for row in rows}
    assert scenes[30] == ("cuts:0001" if 30 in expected else "cuts:0000")


def test_scene_length_reads_frames_and_seconds() -> None:
    assert scene_length("15", Fraction(25)) == 15
    assert scene_length("0.6s", Fraction(30000, 1001)) == 18


def test_the_adaptive_detector_ignores_fast_camera_motion(tmp_path: Path) -> None:
    video = make_video(tmp_path / "pan.mp4", PAN)
    _, content = harvest(video, tmp_path, every=20)
    _, adaptive = harvest(video, tmp_path, every=20, detector="adaptive")
    assert len(starts(content)) > 10, "the pan fools the fixed threshold (what adaptive is for)"
    assert starts(adaptive) == [0, 40, 100]


def test_a_slow_pan_over_fine_texture_is_one_scene(tmp_path: Path) -> None:
    # Fixed noise (detail finer than a thumbnail pixel) panned 2 px a frame: no cut anywhere. Thumbnails
    # that sample pixels instead of averaging them (ffmpeg's neighbor or fast_bilinear scalers) alias
    # into a different picture on every frame and cut on every frame here.
    still, video = tmp_path / "noise.png", tmp_path / "pan.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "color=gray:s=1600x360,noise=alls=100:allf=0", "-frames:v", "1", str(still)], check=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-loop", "1", "-i", str(still), "-vf",
                    "crop=960:360:x='n*2':y=0,format=yuv420p", "-frames:v", "48", "-r", "24",
                    "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", str(video)], check=True)
    _, result = harvest(video, tmp_path, every=12)
    assert result.decoded == 48 and starts(result) == [0]


def test_a_dissolve_between_different_shots_starts_a_scene(tmp_path: Path) -> None:
    # a 0.8 s cross-fade over frames 50-70
    video = make_transition(tmp_path / "dissolve.mp4", "testsrc2", "mandelbrot", transition="fade")
    rows, result = harvest(video, tmp_path, every=5)
    assert len(starts(result)) == 2 and 50 <= starts(result)[1] <= 70
    by_frame = {row[schema.FRAME]: row[schema.SCENE] for row in rows}
    assert by_frame[45] == "dissolve:0000" and by_frame[75] == "dissolve:0001"


def test_a_fade_through_black_stays_one_scene(tmp_path: Path) -> None:
    video = make_transition(tmp_path / "black.mp4", "testsrc2", "mandelbrot", transition="fadeblack")
    _, result = harvest(video, tmp_path, every=5)
    assert starts(result) == [0]


def test_pick_frames_spreads_n_frames_over_each_scene() -> None:
    assert pick_frames([0, 30, 60], 90, 3) == [5, 15, 25, 35, 45, 55, 65, 75, 85]
    assert pick_frames([0, 2], 10, 3) == [0, 1, 3, 6, 8]  # a 2-frame scene gives 2


def test_frames_per_scene_and_the_scene_list(cut_video: Path, tmp_path: Path, capsys) -> None:
    manifest, table = tmp_path / "m" / "manifest.csv", tmp_path / "scenes.csv"
    code = run("frames", str(cut_video), "--frames-per-scene", "3", "--scenes-csv", str(table),
               "-m", str(manifest), "--json")
    assert code == 0
    assert json.loads(capsys.readouterr().out)["scenes_csv"] == str(table)
    rows = read(manifest)
    assert sorted(rows[schema.FRAME].astype(int)) == [5, 15, 25, 35, 45, 55, 65, 75, 85]
    assert rows.groupby(schema.SCENE).size().to_dict() == {"cuts:0000": 3, "cuts:0001": 3, "cuts:0002": 3}
    assert set(rows[schema.SAMPLING].str.split().str[0]) == {"frames_per_scene=3"}
    with table.open() as f:
        spans = list(csv.DictReader(f))
    assert [(s["scene"], s["start_frame"], s["end_frame"]) for s in spans] == [
        ("cuts:0000", "0", "29"), ("cuts:0001", "30", "59"), ("cuts:0002", "60", "89")]
    assert [float(s["start_time"]) for s in spans] == [0.0, 1.2, 2.4]
    assert float(spans[-1]["end_time"]) == 3.6


def test_a_rerun_keeps_the_scenes_of_videos_it_skips(cut_video: Path, tmp_path: Path, capsys) -> None:
    manifest, table = tmp_path / "m" / "manifest.csv", tmp_path / "scenes.csv"
    other = make_video(tmp_path / "other.mp4", [("testsrc2", 20), ("mandelbrot", 20)])
    assert run("frames", str(cut_video), "--every", "30", "--scenes-csv", str(table),
               "-m", str(manifest)) == 0
    # the rerun skips the finished video and decodes the new one: the list has both
    assert run("frames", str(cut_video), str(other), "--every", "30", "--scenes-csv", str(table),
               "-m", str(manifest)) == 0
    with table.open() as f:
        spans = [(s["video"], s["scene"]) for s in csv.DictReader(f)]
    assert spans == [(str(cut_video), "cuts:0000"), (str(cut_video), "cuts:0001"),
                     (str(cut_video), "cuts:0002"), (str(other), "other:0000"), (str(other), "other:0001")]
    # a file that is not a scene list is refused before any work, and left as it was
    notes = tmp_path / "notes.csv"
    notes.write_text("a,b\n1,2\n")
    capsys.readouterr()
    assert run("frames", str(other), "--every", "30", "--scenes-csv", str(notes),
               "-m", str(tmp_path / "n" / "manifest.csv")) != 0
    assert "is not a scene list" in capsys.readouterr().err and notes.read_text() == "a,b\n1,2\n"


def test_frames_per_scene_excludes_every(cut_video: Path, tmp_path: Path) -> None:
    code = run("frames", str(cut_video), "--frames-per-scene", "3", "--every", "5",
               "-m", str(tmp_path / "manifest.csv"))
    assert code == 2 and not (tmp_path / "manifest.csv").exists()


@pytest.mark.slow
@pytest.mark.shared
def test_real_footage_cuts_and_dissolve_and_fades(shared_fixtures: Path, tmp_path: Path) -> None:
    video = shared_fixtures / "video"
    _, result = harvest(video / "testvideo.mp4", tmp_path, every=100, keep_dark=True)
    # PySceneDetect's ContentDetector finds cuts at 30, 180 and 394; a dissolve runs over ~520-555
    assert starts(result)[:4] == [0, 30, 180, 394] and len(starts(result)) == 5
    assert 520 <= starts(result)[4] <= 555
    _, fades = harvest(video / "fades.mp4", tmp_path, every=100, keep_dark=True)
    assert starts(fades) == [0]  # fades between black and white, no hard cut: one scene, as before
