"""``harvest frames --start`` past the end of a video names itself instead of doing nothing silently."""

from __future__ import annotations

from pathlib import Path

from manifests import ExitStatus, read, schema
from tests.fixtures.video import make_video
from tests.harvest.video.test_frames_run import run


def test_start_past_the_end_warns_and_fails_under_strict(tmp_path: Path, capsys) -> None:
    video = make_video(tmp_path / "short.mp4", [("testsrc2", 12)])  # half a second
    manifest = tmp_path / "m.csv"
    code = run("frames", str(video), "--start", "60", "-m", str(manifest), "--strict")
    err = capsys.readouterr().err
    assert code == ExitStatus.PARTIAL
    assert err.count("no frame in the range asked for (--start 60)") == 1
    (row,) = read(manifest).to_dict("records")
    assert row[schema.STATUS] == schema.NO_FRAMES  # counted as not usable, and a rerun knows it
    assert run("frames", str(video), "--start", "60", "-m", str(tmp_path / "n.csv")) == 0
