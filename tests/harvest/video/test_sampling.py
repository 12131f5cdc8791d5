"""``harvest frames --sampling reference|keyframes`` (issue 28): fewer frames decoded, indices exact.

The oracle for which frames a policy may keep is ffmpeg itself: ``ffmpeg -skip_frame noref`` (or
``nokey``) with ``showinfo`` lists the frames its decoder outputs under that policy, by time. Each
kept frame must be the listed frame nearest to the frame the selection asks for, and its pixels must
be that frame's (the frame oracle of ``test_frames_oracle``).
"""

from __future__ import annotations

import re
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from harvest.video import FrameOptions, harvest_video
from harvest.video.decode import DecodePlan, Selection
from harvest.video.decoders import DECODERS, open_decoder
from harvest.video.probe import CropBox, probe
from manifests import schema
from tests.fixtures.video import RATE, make_video
from tests.harvest.video.test_frames import Rows
from tests.harvest.video.test_frames_oracle import (
    COUNTER,
    SHOTS,
    assert_frames_are_theirs,
    frame_numbers,
    run,
    stored_rows,
)

FRAMES = 60


def decoded_under(video: Path, skip: str) -> list[int]:
    """Frame indices (time x rate) of the frames ffmpeg's decoder outputs with ``-skip_frame skip``."""
    err = subprocess.run(["ffmpeg", "-hide_banner", "-skip_frame", skip, "-i", str(video), "-vf", "showinfo",
                          "-fps_mode", "passthrough", "-f", "null", "-"], capture_output=True, text=True,
                         check=True).stderr
    return [round(Fraction(t) * RATE) for t in re.findall(r"pts_time:([0-9.]+)", err)]


def nearest(decoded: list[int], targets: list[int]) -> list[int]:
    """The decoded frame nearest to each target (the earlier on a tie), each once."""
    out: list[int] = []
    for t in targets:
        best = min(decoded, key=lambda d: (abs(d - t), d))
        if best not in out:
            out.append(best)
    return out


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # x264's defaults: B-frames that no frame refers to, a key frame every 10 frames
    return make_video(tmp_path_factory.mktemp("sampling") / "clip.mp4", [("testsrc2", FRAMES)], post=COUNTER)


@pytest.mark.parametrize(("policy", "skip", "args", "targets"), [
    ("reference", "noref", ["--every", "4"], list(range(0, FRAMES, 4))),
    ("keyframes", "nokey", ["--every-seconds", "0.6"], [round(k * 0.6 * RATE) for k in range(4)]),
])
def test_a_policy_keeps_the_decoded_frame_nearest_to_each_asked_for(clip: Path, tmp_path: Path, policy: str,
                                                                     skip: str, args: list[str],
                                                                     targets: list[int]) -> None:
    decoded = decoded_under(clip, skip)
    assert 0 < len(decoded) < FRAMES, f"-skip_frame {skip} should decode fewer frames"
    manifest = tmp_path / "manifest.csv"
    assert run("frames", str(clip), *args, "--sampling", policy, "--crop", "none", "-m", str(manifest)) == 0
    assert frame_numbers(manifest) == nearest(decoded, targets)
    assert all(f"decode={policy}" in r[schema.SAMPLING] for r in stored_rows(manifest))
    assert_frames_are_theirs(manifest, clip)  # frame K's pixels in the row that says K


@pytest.mark.parametrize("policy", ["exact", "reference", "keyframes"])
def test_scenes_are_found_on_the_frames_decoded(tmp_path: Path, policy: str) -> None:
    # three 30-frame shots, a key frame every 10 frames: every policy decodes each shot's first frame
    video = make_video(tmp_path / "shots.mp4", SHOTS, post=COUNTER)
    sink = Rows()
    result = harvest_video(video, FrameOptions(every=10, crop="none", sampling_policy=policy), sink,
                           store_root=tmp_path)
    assert result.status == schema.OK
    assert [s.start_frame for s in result.scene_list] == [0, 30, 60]
    assert result.scene_list[-1].end_frame == 89
    if policy != "exact":
        assert result.decoded < 90
    assert {r[schema.SCENE] for r in sink.ok() if r[schema.FRAME] >= 60} == {"shots:0002"}


@pytest.mark.parametrize(("args", "says"), [
    (["--sampling", "reference", "--decoder", "ffmpeg"], "--sampling reference decodes in-process"),
    (["--sampling", "sometimes"], "--sampling 'sometimes': use exact, reference or keyframes"),
])
def test_bad_sampling_options_are_one_line(clip: Path, tmp_path: Path, capsys, args: list[str],
                                           says: str) -> None:
    assert run("frames", str(clip), *args, "-m", str(tmp_path / "m.csv")) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err


@pytest.mark.parametrize("name", sorted(DECODERS))
def test_every_decoder_keeps_the_same_frames_of_a_range(clip: Path, name: str) -> None:
    # the registry's contract: the same kept indices, counts and end over [5, 50) of an exact pass
    info = probe(clip)
    box = CropBox(info.width, info.height)
    plan = DecodePlan(Selection(every=7), box, (80, 60), start=5, end=50, decoder=name)
    with open_decoder(info, plan) as decoder:
        kept = [(index, rgb.shape) for index, rgb in decoder]
        assert decoder.finish() == 0
    assert kept == [(k, (60, 80, 3)) for k in range(7, 50, 7)]
    state = decoder.state
    assert (state.decoded, state.end, state.mismatch(), state.errors) == (45, 50, None, [])
    assert sorted(state.scenes)[:1] and all(state.scenes[k] == 0 for k, _ in kept)
