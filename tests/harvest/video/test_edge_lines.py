"""Edge lines on every edge, on generated videos whose truth is known (issue 15).

Each video carries lines drawn with ``drawbox`` at known places: dark lines over dark pictures, lines
of 1-4 px lighter or darker than the picture, clips with a single key frame, variable frame rate,
letterbox bars with a line at their inner edge; and a dark sky at the top that must be kept.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harvest.video import FrameOptions, harvest_video
from harvest.video.probe import CropBox, detect_crop, probe
from manifests import schema
from tests.fixtures.video import make_video
from tests.harvest.video.test_frames import Rows, image

SIZE = (320, 136)


def box(path: Path) -> tuple[CropBox, dict]:
    report = detect_crop(probe(path))
    return report.box, report.details()


def box_edges(b: CropBox) -> dict[str, int]:
    return {"left": b.x, "top": b.y, "right": SIZE[0] - b.x - b.w, "bottom": SIZE[1] - b.y - b.h}


def assert_cut(b: CropBox, truth: dict[str, int]) -> None:
    """Each edge cut at least as deep as its line, and at most 2 px deeper (even sizes for 4:2:0)."""
    got = box_edges(b)
    for edge, depth in truth.items():
        assert depth <= got[edge] <= depth + 2, f"{edge}: cut {got[edge]} px, the line is {depth} px"


# A dark film: the top 40 rows darkened to ~15 % (mean ~15-20/255 below the line), a 1-px line of
# 14/255 on top (too bright for cropdetect's bar limit) and 2-px lines left and right.
DARK = ("drawbox=x=0:y=0:w=iw:h=40:color=black@0.85:t=fill,"
        "drawbox=x=0:y=0:w=iw:h=1:color=0x0e0e0e:t=fill,"
        "drawbox=x=0:y=0:w=2:h=ih:color=0x0e0e0e:t=fill,drawbox=x=iw-2:y=0:w=2:h=ih:color=0x0e0e0e:t=fill")
# Lines of 1 to 4 px, lighter and darker than the picture.
MIXED = ("drawbox=x=0:y=0:w=iw:h=1:color=white:t=fill,"
         "drawbox=x=0:y=ih-4:w=iw:h=4:color=0xd0d0d0:t=fill,"
         "drawbox=x=0:y=0:w=3:h=ih:color=0x303030:t=fill,"
         "drawbox=x=iw-2:y=0:w=2:h=ih:color=0xe0e0ff:t=fill")
MIXED_TRUTH = {"top": 1, "bottom": 4, "left": 3, "right": 2}


def test_a_dark_line_over_a_dark_picture_in_a_one_key_frame_clip(tmp_path: Path) -> None:
    video = make_video(tmp_path / "dark.mp4", [("testsrc2", 160)], size=SIZE, post=DARK, gop=1000)
    b, details = box(video)
    assert_cut(b, {"top": 1, "left": 2, "right": 2, "bottom": 0})
    assert details["cut_why"]["top"], "the lineage log says why the top was cut"


def test_lines_of_one_to_four_px_lighter_or_darker(tmp_path: Path) -> None:
    video = make_video(tmp_path / "mixed.mp4", [("testsrc2", 50), ("mandelbrot", 50)], size=SIZE,
                       post=MIXED, gop=50)
    b, details = box(video)
    assert_cut(b, MIXED_TRUTH)
    assert "lighter" in details["cut_why"]["top"] and "darker" in details["cut_why"]["left"]


def test_lines_in_a_variable_frame_rate_clip_with_two_key_frames(tmp_path: Path) -> None:
    # frame durations grow from 1/25 s to about 3/25 s: a variable frame rate
    vfr = MIXED + ",setpts='(N+N*N/150)/25/TB'"
    video = make_video(tmp_path / "vfr.mkv", [("testsrc2", 60), ("mandelbrot", 60)], size=SIZE,
                       post=vfr, gop=60, vfr=True)
    b, _ = box(video)
    assert_cut(b, MIXED_TRUTH)


@pytest.mark.parametrize("colour", ["0x606060", "0x1c1c1c"])
def test_letterbox_bars_with_a_line_at_their_inner_edge(tmp_path: Path, colour: str) -> None:
    post = (f"pad=320:176:0:20:black,drawbox=x=0:y=20:w=iw:h=2:color={colour}:t=fill,"
            f"drawbox=x=0:y=ih-22:w=iw:h=2:color={colour}:t=fill")
    video = make_video(tmp_path / "boxed.mp4", [("testsrc2", 40), ("mandelbrot", 40)], size=SIZE,
                       post=post)
    b, details = box(video)
    assert 22 <= b.y <= 24 and 176 - 24 <= b.y + b.h <= 176 - 22, details
    assert "bar" in details["cut_why"]["top"]


def test_a_dark_sky_at_the_top_is_picture_and_kept(tmp_path: Path) -> None:
    # 30 rows of night sky, a smooth gradient from 12/255 up, above a moving picture
    sky = ("geq=lum='if(lt(Y,30),26+Y,lum(X,Y))':cb='if(lt(Y,15),128,cb(X,Y))':"
           "cr='if(lt(Y,15),128,cr(X,Y))'")
    video = make_video(tmp_path / "sky.mp4", [("testsrc2", 60), ("mandelbrot", 60)], size=SIZE,
                       post=sky)
    b, details = box(video)
    assert b.y == 0 and b.h == SIZE[1], details


def test_the_stored_frames_lose_the_dark_line(tmp_path: Path) -> None:
    video = make_video(tmp_path / "dark.mp4", [("testsrc2", 60)], size=SIZE, post=DARK, gop=1000)
    sink = Rows()
    result = harvest_video(video, FrameOptions(every=20, keep_dark=True), sink, store_root=tmp_path)
    assert result.crop["cut_why"]["top"] and result.crop["cut_why"]["left"]
    for row in sink.ok():
        pixels = image(tmp_path, row)
        line_like = np.abs(pixels[0, 40:-40].mean(axis=-1) - 14).mean()
        assert line_like > 2 or pixels[0].std() > 4, "the top row of a stored frame is still the line"
        assert row[schema.CROP] == result.crop["crop"]
