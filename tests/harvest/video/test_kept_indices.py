"""Which frame indices a decoding pass keeps (:func:`harvest.video.decode.kept_indices`, shared by the
ffmpeg pipe and the PyAV decoder), against a brute-force oracle: every index from ``start`` to the
nearer of ``end`` and ``stop``, kept when the selection keeps it; and the scene thumbnails' size (96 wide,
the nearest even height in proportion, at least 2)."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
from fractions import Fraction

import pytest

from harvest.video.decode import DecodePlan, Selection, kept_indices, thumb_size
from harvest.video.probe import CropBox

FPS = Fraction(30000, 1001)
SELECTIONS = [Selection(every=4), Selection(seconds=0.5), Selection(frames=frozenset({0, 3, 7, 40, 41}))]


def brute(selection: Selection, start: int, end: int | None, stop: int | None, limit: int) -> list[int]:
    bounds = [b for b in (end, stop) if b is not None]
    last = min(bounds) if bounds else limit
    return [i for i in range(start, last) if selection.keeps(i, FPS)]


@pytest.mark.parametrize(("selection", "start", "end", "stop"), [
    (sel, start, end, stop) for sel, start, end, stop in itertools.product(
        SELECTIONS, (0, 3, 8), (None, 20, 45), (None, 10, 30, 50))])
def test_kept_indices_are_the_brute_force_answer(selection: Selection, start: int, end: int | None,
                                                stop: int | None) -> None:
    plan = DecodePlan(selection, CropBox(64, 48), (64, 48), start=start, end=end)
    got = kept_indices(plan, FPS, stop)
    if end is None and stop is None:  # endless: the first ones
        got = list(itertools.islice(got, len(brute(selection, start, None, None, 60))))
        want = brute(selection, start, None, None, 60)
        if selection.frames is not None:  # listed frames end by themselves
            want = sorted(i for i in selection.frames if i >= start)
    else:
        got, want = list(got), brute(selection, start, end, stop, 10**6)
    assert got == want


@pytest.mark.parametrize(("box", "want"), [((64, 48), (96, 72)), ((1280, 544), (96, 40)),
                                           ((100, 1), (96, 2)), ((90, 31), (96, 34))])
def test_thumbnails_are_96_wide_with_the_nearest_even_height_in_proportion(box: tuple[int, int],
                                                                   want: tuple[int, int]) -> None:
    assert thumb_size(CropBox(*box)) == want


def _first_of_each_slot(seconds: str, fps: Fraction, n: int) -> list[int]:
    """Exact arithmetic: frame ``i`` (at ``i / fps`` s) is kept when it is the first in its slot of
    ``seconds`` (the decimal as typed) — frame 0, and each frame whose slot number is above the last's."""
    slot_of = [(i / fps) // Fraction(seconds) for i in range(n)]
    return [i for i in range(n) if i == 0 or slot_of[i] > slot_of[i - 1]]


@pytest.mark.parametrize("fps", [Fraction(30000, 1001), Fraction(25), Fraction(24000, 1001)])
def test_every_seconds_keeps_the_first_frame_of_each_slot_in_exact_arithmetic(fps: Fraction) -> None:
    for seconds in ("0.5", "1.001", "0.123", "2", "0.04", "1.2345"):
        selection = Selection(seconds=float(seconds))
        got = [i for i in range(1200) if selection.keeps(i, fps)]
        assert got == _first_of_each_slot(seconds, fps, 1200), seconds
        plan = DecodePlan(selection, CropBox(64, 48), (64, 48), start=100, end=1100)
        assert list(kept_indices(plan, fps)) == [i for i in got if 100 <= i < 1100], seconds


def test_listed_frames_on_every_start_end_and_stop_are_kept_below_the_nearer_bound() -> None:
    frames = frozenset({0, 1, 4, 5, 9})
    for start, end, stop in itertools.product(range(11), [None, *range(11)], [None, *range(11)]):
        plan = DecodePlan(Selection(frames=frames), CropBox(64, 48), (64, 48), start=start, end=end)
        bounds = [b for b in (end, stop) if b is not None]
        want = [i for i in sorted(frames) if i >= start and (not bounds or i < min(bounds))]
        assert list(kept_indices(plan, FPS, stop)) == want, (start, end, stop)


def _ffmpeg_selects(expression: str, offset: int, n: int) -> list[int]:
    """The frame indices ffmpeg's ``select`` keeps with ``expression`` over frames ``offset``..``n - 1``
    of a generated 29.97 fps clip (``pts`` is the frame index there)."""
    out = subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-f", "lavfi", "-i",
                          "testsrc=size=16x16:rate=30000/1001", "-vf",
                          f"trim=start_frame={offset}:end_frame={n},select='{expression}',showinfo",
                          "-f", "null", "-"], capture_output=True, text=True, check=True).stderr
    return [int(m) for m in re.findall(r"\bn:\s*\d+\s+pts:\s*(\d+)", out)]


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
@pytest.mark.parametrize("selection", [Selection(every=4), Selection(seconds=0.5), Selection(seconds=0.123),
                                       Selection(frames=frozenset({0, 3, 7, 40, 41, 70}))])
def test_ffmpegs_select_keeps_the_frames_the_selection_keeps(selection: Selection) -> None:
    """The pipe decoder's ``select`` expression, evaluated by ffmpeg itself, against ``keeps``."""
    for offset in (0, 5):
        want = [i for i in range(offset, 60) if selection.keeps(i, FPS)]
        assert _ffmpeg_selects(selection.expression(offset, FPS), offset, 60) == want, offset
