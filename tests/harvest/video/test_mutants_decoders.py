"""Both decoders of a ``harvest frames`` pass (``pyav`` and ``ffmpeg``) on what mutation testing found
unchecked (docs/testing.md): the pass's scene rules and first scene number reach the scene tracker (a
hard cut between two colours found by default, ignored under a minimum scene length longer than the
clip; kept frames numbered from ``first_scene``), and a file that no longer opens gives no frame, a
failed exit code and one error at the pass's start frame carrying the decoder's reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from harvest.video.decode import DecodePlan, Selection
from harvest.video.decoders import DECODERS, open_decoder
from harvest.video.probe import CropBox, probe
from harvest.video.scenes import SceneRules
from tests.fixtures.video import make_video

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
def test_a_file_that_no_longer_opens_fails_the_pass_with_the_decoders_reason(tmp_path: Path,
                                                                           decoder: str) -> None:
    video = make_video(tmp_path / "gone.mp4", [("color=c=red", 10)], size=SIZE)
    info = probe(video)
    video.write_bytes(b"not a video any more " * 64)  # replaced between probe and decode
    plan = DecodePlan(Selection(every=2), CropBox(*SIZE), SIZE, start=4, decoder=decoder)
    with open_decoder(info, plan) as dec:
        assert list(dec) == []
        assert dec.finish() != 0
    assert dec.state.errors and all(at == 4 for at, _ in dec.state.errors)
    assert any("Invalid data found" in reason for _, reason in dec.state.errors), dec.state.errors
