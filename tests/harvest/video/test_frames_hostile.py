"""``harvest frames`` on a video whose frames are huge: refused from its declared size, never decoded."""

from __future__ import annotations

from pathlib import Path

import pytest

from harvest.video import pipeline, probe
from manifests import read, schema
from tests.fixtures.video import make_video
from tests.harvest.video.test_frames_run import run


def test_frames_over_max_pixels_are_refused_before_decoding(tmp_path: Path, capsys,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    video = make_video(tmp_path / "huge.mp4", [("color=c=gray", 4)], size=(1600, 1200))  # 1.92 MP
    decoded: list[str] = []
    real = pipeline.choose_crop
    monkeypatch.setattr(pipeline, "choose_crop", lambda *a: decoded.append("crop") or real(*a))
    manifest = tmp_path / "m.csv"
    code = run("frames", str(video), "--max-pixels", "1000000", "-m", str(manifest), "--strict")
    err = capsys.readouterr().err
    assert code == 4 and "Traceback" not in err and not decoded, err  # no crop samples, no frame decoded
    (row,) = read(manifest).to_dict("records")
    assert row[schema.STATUS] == schema.TOO_LARGE and "over the --max-pixels limit" in row[schema.ERROR]
    assert run("frames", str(video), "-m", str(tmp_path / "n.csv")) == 0  # under the default: decoded


def test_crop_samples_of_huge_frames_are_few() -> None:
    info = probe.VideoInfo(Path("x.mp4"), 10_000, 10_000, probe.Fraction(25), 100, 4.0, "h264")
    assert probe.crop_samples(info) == 2  # 2 x 300 MB, not 12
    small = probe.VideoInfo(Path("x.mp4"), 1920, 1080, probe.Fraction(25), 100, 4.0, "h264")
    assert probe.crop_samples(small) == probe.CROP_SAMPLES
