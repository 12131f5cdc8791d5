"""A video whose file name is not valid UTF-8 (a Latin-1 byte, as old cameras and Windows shares
write) is one clear error row and one error line, never a traceback; the other videos of the same
command are harvested, and the manifest and its lineage log stay valid UTF-8."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from manifests import ExitStatus, lineage_entries, read, schema
from tests.fixtures.video import make_video
from tests.harvest.video.test_frames_run import run


def test_a_video_named_in_another_encoding_is_an_error_row_and_the_rest_is_harvested(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = make_video(tmp_path / "good.mp4", [("testsrc2", 10)])
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.mp4"))  # the byte 0xe9 alone: no UTF-8
    shutil.copyfile(good, odd)
    manifest = tmp_path / "m.csv"
    code = run("frames", str(odd), str(good), "-m", str(manifest), "--every", "5")
    err = capsys.readouterr().err
    assert code == ExitStatus.INPUT, err  # as for any video that cannot be read
    assert "Traceback" not in err
    assert "caf\\xe9.mp4: the file name is not valid UTF-8" in err  # the byte shown, escaped
    frame = read(manifest)
    bad = frame[frame[schema.STATUS] == schema.ERROR]
    assert len(bad) == 1 and bad[schema.VIDEO].iloc[0].endswith("caf\\xe9.mp4")
    assert (frame[schema.STATUS] == schema.OK).sum() == 2  # good.mp4: frames 0 and 5
    manifest.read_text(encoding="utf-8")  # valid UTF-8 throughout
    assert "caf" in lineage_entries(manifest)[-1]["command"]
