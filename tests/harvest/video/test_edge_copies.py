"""Edge rows that are a dimmed (or brightened) copy of the picture (issue 28), on generated clips.

Each clip multiplies the RGB of its outer rows or columns by a known factor with ``geq`` (0.3: a
darkened copy, as a real film's top row was at 0.25-0.35x the row below it; 1.6: a brighter one), 1 or
2 px deep, on bright and on dark pictures. The crop must cut each band (and no more than 2 px beyond,
for even 4:2:0 sizes). A dark horizon (a dark band of picture deeper than a band) must be kept.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harvest.video import FrameOptions, harvest_video
from harvest.video.probe import detect_crop, probe
from tests.fixtures.video import make_video
from tests.harvest.video.test_edge_lines import assert_cut
from tests.harvest.video.test_frames import Rows, image

SIZE = (320, 136)  # the size test_edge_lines' assert_cut measures against
# testsrc2 with its own test-card border cropped away, so its edges are picture, and a mandelbrot
SEGMENTS = [("testsrc2", 25, "crop=256:108:32:14,scale=320:136,setsar=1"), ("mandelbrot", 25)]
DARK = "colorlevels=romax=0.3:gomax=0.3:bomax=0.3"  # the whole picture at 30 %: a dark film
MID = "colorlevels=romax=0.6:gomax=0.6:bomax=0.6"  # bright, below white once brightened 1.6x

WHERE = {"top": "lt(Y,{n})", "bottom": "gte(Y,H-{n})", "left": "lt(X,{n})", "right": "gte(X,W-{n})"}


def scaled_edges(edges: dict[str, tuple[int, float]]) -> str:
    """``geq`` on RGB multiplying the outer ``n`` rows (columns) of each edge by its factor."""
    factor = "1"
    for edge, (n, times) in edges.items():
        factor = f"if({WHERE[edge].format(n=n)},{times},{factor})"
    return "format=rgb24,geq=" + ":".join(f"{p}='min(255,{p}(X,Y)*{factor})'" for p in "rgb")


CASES = {
    "dimmed on a bright picture": ("", {"top": (1, 0.3), "bottom": (2, 0.3), "left": (1, 0.3),
                                        "right": (2, 0.3)}),
    "brightened": (MID, {"top": (2, 1.6), "bottom": (1, 1.6), "left": (2, 1.6), "right": (1, 1.6)}),
    "dimmed and brightened on a dark picture": (DARK, {"top": (1, 0.3), "bottom": (2, 0.3),
                                                       "left": (1, 1.6), "right": (2, 1.6)}),
}


@pytest.mark.parametrize("case", CASES)
def test_dimmed_and_brightened_edge_rows_are_cut_on_every_edge(tmp_path: Path, case: str) -> None:
    picture, edges = CASES[case]
    post = ",".join(f for f in (picture, scaled_edges(edges)) if f)
    video = make_video(tmp_path / "edges.mp4", SEGMENTS, size=SIZE, post=post)
    report = detect_crop(probe(video))
    assert_cut(report.box, {edge: n for edge, (n, _) in edges.items()})
    for edge in edges:  # each edge says why it was cut (a flat dark band may read as a line)
        assert report.why[edge], f"{edge}: no reason given"


def test_a_dark_horizon_and_a_dark_sky_are_kept(tmp_path: Path) -> None:
    # the bottom 24 rows and the top 16 rows of the picture at 25 %: dark picture, deeper than any band
    post = ("format=rgb24,geq=" + ":".join(f"{p}='{p}(X,Y)*if(gte(Y,H-24)+lt(Y,16),0.25,1)'" for p in "rgb"))
    video = make_video(tmp_path / "horizon.mp4", SEGMENTS, size=SIZE, post=post)
    report = detect_crop(probe(video))
    assert (report.box.y, report.box.h) == (0, SIZE[1]), report.details()


def test_the_stored_frames_lose_the_dimmed_row(tmp_path: Path) -> None:
    video = make_video(tmp_path / "film.mp4", SEGMENTS, size=SIZE,
                       post=scaled_edges({"top": (1, 0.3), "left": (2, 0.3), "right": (2, 0.3)}))
    sink = Rows()
    result = harvest_video(video, FrameOptions(every=12), sink, store_root=tmp_path)
    assert "dimmed copy" in result.crop["cut_why"]["top"]
    for row in sink.ok():
        pixels = image(tmp_path, row).astype(np.float32)
        # the stored top row is as bright as the row below it, not a third of it
        assert pixels[0].mean() > 0.8 * pixels[1].mean(), row["frame"]
