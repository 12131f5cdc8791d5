"""harvest frames on generated videos: frame selection, crop, scenes, dark frames, resume, errors."""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harvest.video import FrameOptions, harvest_video
from harvest.video.probe import CropBox, detect_crop, probe
from manifests import schema
from tests.fixtures.video import RATE, cuts, make_video

SEGMENTS = [("testsrc2", 30), ("mandelbrot", 30), ("sierpinski=seed=3", 30)]


class Rows:
    """A sink that keeps rows in memory."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, row: dict) -> None:
        self.rows.append(row)

    def ok(self) -> list[dict]:
        return [r for r in self.rows if r[schema.STATUS] == schema.OK]


def harvest(video: Path, root: Path, **options) -> tuple[list[dict], object]:
    sink = Rows()
    result = harvest_video(video, FrameOptions(**options), sink, store_root=root)
    return sink.ok(), result


def image(root: Path, row: dict) -> np.ndarray:
    return np.asarray(Image.open(root / row[schema.PATH]).convert("RGB")).astype(int)


@pytest.fixture(scope="module")
def cut_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("v") / "cuts.mp4", SEGMENTS)


def test_every_n_keeps_exact_frame_indices(cut_video: Path, tmp_path: Path) -> None:
    rows, result = harvest(cut_video, tmp_path, every=7, crop="none")
    assert [r[schema.FRAME] for r in rows] == list(range(0, 90, 7))
    assert result.decoded == 90 and result.kept == 13
    first = rows[3]
    assert first[schema.TIME] == pytest.approx(21 / RATE)
    assert first[schema.ORIGIN] == f"{cut_video}#frame=21"
    assert first[schema.VIDEO] == str(cut_video) and first[schema.LABEL] == "cuts"
    assert (tmp_path / first[schema.PATH]).is_file() and first[schema.PATH].startswith("images/")


def test_every_seconds_takes_the_first_frame_of_each_slot(cut_video: Path, tmp_path: Path) -> None:
    rows, _ = harvest(cut_video, tmp_path, every_seconds=0.5, crop="none")
    assert [r[schema.FRAME] for r in rows] == [0, 13, 25, 38, 50, 63, 75, 88]


def test_scene_ids_change_exactly_at_the_cuts(cut_video: Path, tmp_path: Path) -> None:
    rows, result = harvest(cut_video, tmp_path, every=1, crop="none", keep_dark=True)
    assert len(rows) == 90
    changes = [r[schema.FRAME] for prev, r in itertools.pairwise(rows)
               if r[schema.SCENE] != prev[schema.SCENE]]
    assert changes == cuts(SEGMENTS) == [30, 60]
    assert rows[0][schema.SCENE] == "cuts:0000" and rows[-1][schema.SCENE] == "cuts:0002"
    assert result.scenes == 3


def test_scenes_are_found_over_all_frames_not_only_kept_ones(tmp_path: Path) -> None:
    # a five-frame flash of another shot between two kept frames of the same-looking shot
    video = make_video(tmp_path / "flash.mp4", [("testsrc2", 30), ("mandelbrot", 5), ("testsrc2", 30)])
    rows, result = harvest(video, tmp_path, every=25, crop="none")
    assert [(r[schema.FRAME], r[schema.SCENE]) for r in rows] == [
        (0, "flash:0000"), (25, "flash:0000"), (50, "flash:0002")]
    assert result.scenes == 3


def test_slow_fades_make_no_new_scene(tmp_path: Path) -> None:
    out, fade_in = "fade=t=out:start_frame=20:nb_frames=20", "fade=t=in:start_frame=0:nb_frames=20"
    video = make_video(tmp_path / "fade.mp4", [("testsrc2", 40, out), ("testsrc2", 40, fade_in)])
    rows, result = harvest(video, tmp_path, every=1, crop="none", keep_dark=True)
    assert len(rows) == 80
    assert {r[schema.SCENE] for r in rows} == {"fade:0000"}, result


def test_a_fade_through_held_black_separates_scenes(tmp_path: Path) -> None:
    # the first shot fades out, one second of black, the second shot fades in
    video = make_video(tmp_path / "hold.mp4", [
        ("testsrc2", 40, "fade=t=out:start_frame=20:nb_frames=20"), ("color=c=black", 25, "null"),
        ("sierpinski=seed=5", 40, "fade=t=in:start_frame=0:nb_frames=20")])
    rows, _ = harvest(video, tmp_path, every=1, crop="none", keep_dark=True)
    scenes = [r[schema.SCENE] for r in rows]
    assert set(scenes[:65]) == {"hold:0000"}
    first_picture = scenes.index("hold:0001")
    assert 65 <= first_picture <= 68 and set(scenes[first_picture:]) == {"hold:0001"}


def test_letterbox_bars_are_cropped(tmp_path: Path) -> None:
    video = make_video(tmp_path / "wide.mp4", SEGMENTS[:2], post="pad=200:180:20:30:black")
    rows, result = harvest(video, tmp_path, every=10)
    box = CropBox.parse(rows[0][schema.CROP])
    assert abs(box.x - 20) <= 2 and abs(box.y - 30) <= 2
    assert abs(box.w - 160) <= 2 and abs(box.h - 120) <= 2
    assert result.crop["bars"] == {"left": 20, "right": 20, "top": 30, "bottom": 30}
    for row in rows:
        pixels = image(tmp_path, row)
        assert (row[schema.WIDTH], row[schema.HEIGHT]) == (box.w, box.h)
        for edge in (pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]):
            assert edge.max() > 40, "a black bar survived the crop"


def test_thin_edge_lines_are_cropped(tmp_path: Path) -> None:
    lines = ("drawbox=x=0:y=0:w=iw:h=2:color=red:t=fill,"
             "drawbox=x=iw-3:y=0:w=3:h=ih:color=0x20ff20:t=fill")
    video = make_video(tmp_path / "lined.mp4", SEGMENTS, post=lines)
    rows, result = harvest(video, tmp_path, every=15)
    box = CropBox.parse(rows[0][schema.CROP])
    assert abs(box.y - 2) <= 2 and box.y >= 2 and box.x <= 2
    assert box.x + box.w <= 157 and box.x + box.w >= 155
    assert result.crop["lines"]["top"] >= 2 and result.crop["lines"]["right"] >= 3
    for row in rows:
        pixels = image(tmp_path, row)
        top, right = pixels[0].mean(axis=0), pixels[:, -1].mean(axis=0)
        assert not (top[0] > 180 and top[1] < 80 and top[2] < 80), "the red line survived"
        assert not (right[1] > 180 and right[0] < 80 and right[2] < 80), "the green line survived"


def test_long_videos_are_sampled_by_seeking(monkeypatch, tmp_path: Path) -> None:
    video = make_video(tmp_path / "wide.mp4", SEGMENTS, post="pad=160:160:0:20:black")
    monkeypatch.setattr("harvest.video.probe.LONG_VIDEO", 0.0)
    report = detect_crop(probe(video))
    assert report.samples == 12 and str(report.box) == "160:120:0:20"


def test_rotated_videos_come_out_upright(cut_video: Path, tmp_path: Path) -> None:
    rotated = tmp_path / "rotated.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(cut_video), "-c", "copy", "-metadata:s:v",
                    "rotate=90", str(rotated)], check=True)
    rows, _ = harvest(rotated, tmp_path, every=30, crop="none")
    assert {(r[schema.WIDTH], r[schema.HEIGHT]) for r in rows} == {(120, 160)}


def test_no_crop_when_there_is_nothing_to_crop(cut_video: Path, tmp_path: Path) -> None:
    rows, _ = harvest(cut_video, tmp_path, every=30)
    assert {r[schema.CROP] for r in rows} == {"160:120:0:0"}


def test_given_crop_size_and_format(cut_video: Path, tmp_path: Path) -> None:
    rows, _ = harvest(cut_video, tmp_path, every=30, crop="100:80:10:20", size=(50, 40), format="png")
    assert {(r[schema.WIDTH], r[schema.HEIGHT], r[schema.FORMAT]) for r in rows} == {(50, 40, "png")}
    rows, _ = harvest(cut_video, tmp_path, every=30, crop="none", max_side=80, format="webp")
    assert {(r[schema.WIDTH], r[schema.HEIGHT], r[schema.FORMAT]) for r in rows} == {(80, 60, "webp")}


def test_dark_and_uniform_frames_are_dropped_and_counted(tmp_path: Path) -> None:
    video = make_video(tmp_path / "dark.mp4", [("testsrc2", 20), ("color=c=black", 20),
                                               ("color=c=gray", 20), ("mandelbrot", 20)])
    rows, result = harvest(video, tmp_path, every=5, crop="none")
    assert [r[schema.FRAME] for r in rows] == [0, 5, 10, 15, 60, 65, 70, 75]
    assert result.dropped == {"dark": 4, "uniform": 4}
    kept, _ = harvest(video, tmp_path, every=5, crop="none", keep_dark=True)
    assert len(kept) == 16


def test_another_collector_can_name_the_video_and_add_columns(cut_video: Path, tmp_path: Path) -> None:
    sink = Rows()
    url = "https://v.redd.it/abc123/DASH_360.mp4"
    result = harvest_video(cut_video, FrameOptions(every=45), sink, store_root=tmp_path, name=url,
                           extra={schema.POST_ID: "abc123", schema.SUBREDDIT: "doom"}, label="doom")
    assert result.kept == 2
    assert [(r[schema.ORIGIN], r[schema.VIDEO], r[schema.POST_ID], r[schema.LABEL]) for r in sink.rows] == [
        (f"{url}#frame=0", url, "abc123", "doom"), (f"{url}#frame=45", url, "abc123", "doom")]
    assert all(r[schema.SCENE].startswith("cuts:") for r in sink.rows)
