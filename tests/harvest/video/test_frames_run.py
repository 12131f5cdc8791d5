"""harvest frames as a command: resume and idempotency, per-video errors, workers, recorded videos."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import pytest

from harvest.cli import main
from harvest.video import FrameOptions, FramesCollector, FramesOptions, harvest_video
from manifests import (
    Appender,
    Archive,
    ExitStatus,
    MissingToolError,
    archive_path,
    group_columns,
    lineage,
    lineage_entries,
    read,
    schema,
)
from tests.fixtures.video import corrupt, make_audio, make_video

SEGMENTS = [("testsrc2", 30), ("mandelbrot", 30), ("sierpinski=seed=3", 30)]


def run(*args: str) -> int:
    try:
        return main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("videos")
    make_video(root / "clean.mp4", SEGMENTS)
    damaged = make_video(root / "damaged.mp4", SEGMENTS * 2, codec="mpeg4")
    shutil.copy(damaged, root / "undamaged.mp4")
    corrupt(damaged)
    (root / "notes.mp4").write_text("not a video at all\n")
    (root / "empty.mp4").write_bytes(b"")
    make_audio(root / "song.m4a")
    return {p.stem: p for p in root.iterdir()}


def frames_of(manifest: Path, video: Path) -> dict[int, tuple[str, str]]:
    rows = read(manifest)
    rows = rows[(rows[schema.VIDEO] == str(video.resolve())) & (rows[schema.STATUS] == schema.OK)]
    return {int(r[schema.FRAME]): (r[schema.SHA256], r[schema.SCENE]) for _, r in rows.iterrows()}


def test_rerun_adds_nothing_and_decodes_nothing(videos: dict[str, Path], tmp_path: Path, capsys) -> None:
    manifest = tmp_path / "m" / "manifest.csv"
    assert run("frames", str(videos["clean"]), "--every", "10", "-m", str(manifest), "--json") == 0
    first = json.loads(capsys.readouterr().out)
    assert first["added"] == 9 and first["ok"] == 9
    details = lineage_entries(manifest)[-1]["details"]["videos"][str(videos["clean"].resolve())]
    assert details["crop"] == "160:120:0:0" and details["decoded"] == 90
    before = manifest.read_bytes()
    assert run("frames", str(videos["clean"]), "--every", "10", "-m", str(manifest), "--json") == 0
    again = json.loads(capsys.readouterr().out)
    assert again["added"] == 0 and again["already_present"] == 9
    assert again["videos"][str(videos["clean"])]["skipped"] is True  # nothing decoded
    assert manifest.read_bytes() == before
    # other options are another harvest of the same video
    assert run("frames", str(videos["clean"]), "--every", "30", "-m", str(manifest), "--json") == 0
    assert json.loads(capsys.readouterr().out)["videos"][str(videos["clean"])]["decoded"] == 90


class Interrupt(Exception):
    pass


class StopAfter(Appender):
    """An Appender whose run is killed after some rows (flushing each row as it comes)."""

    def __init__(self, path: Path, rows: int) -> None:
        super().__init__(path, batch_size=1, interval=0)
        self.left = rows

    def add(self, row) -> None:
        if self.left == 0:
            raise Interrupt
        self.left -= 1
        super().add(row)


def test_interrupted_run_resumes_where_it_stopped(videos: dict[str, Path], tmp_path: Path) -> None:
    video = videos["clean"]
    full = tmp_path / "full" / "manifest.csv"
    options = FramesOptions(videos=(video,), frames=FrameOptions(every=6))
    with Appender(full) as sink:
        FramesCollector(options).run(sink)
    expected = frames_of(full, video)
    assert len(expected) == 15
    assert group_columns(full) == (schema.VIDEO, schema.SCENE)

    part = tmp_path / "part" / "manifest.csv"
    with pytest.raises(Interrupt), StopAfter(part, 7) as sink:
        FramesCollector(options).run(sink)
    assert sorted(frames_of(part, video)) == list(range(0, 42, 6))  # a valid manifest, 7 frames
    with Appender(part) as sink:
        summary = FramesCollector(options).run(sink)
    assert summary.videos[str(video)].resumed_at == 36
    assert summary.merge.added == 8
    assert frames_of(part, video) == expected  # same bytes, same scenes as one uninterrupted run


def test_start_and_end_take_the_same_frames_as_a_whole_run(videos: dict[str, Path], tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.csv"
    assert run("frames", str(videos["clean"]), "--every", "5", "--start", "1.3", "--end", "2.5",
               "-m", str(manifest), "--crop", "none") == 0
    ranged = frames_of(manifest, videos["clean"])
    assert sorted(ranged) == [35, 40, 45, 50, 55, 60]
    whole = tmp_path / "whole.csv"
    assert run("frames", str(videos["clean"]), "--every", "5", "-m", str(whole), "--crop", "none") == 0
    full = frames_of(whole, videos["clean"])
    assert {i: full[i][0] for i in ranged} == {i: v[0] for i, v in ranged.items()}


def test_each_bad_video_fails_alone(videos: dict[str, Path], tmp_path: Path, capsys) -> None:
    manifest = tmp_path / "manifest.csv"
    names = ["clean", "notes", "empty", "song"]
    code = run("frames", *(str(videos[n]) for n in names), str(tmp_path / "gone.mp4"),
               "--every", "30", "-m", str(manifest), "--workers", "2")
    assert code == ExitStatus.INPUT
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 4
    assert any("notes.mp4: not a video" in ln for ln in lines)
    assert any("empty.mp4: zero-length file" in ln for ln in lines)
    assert any("song.m4a: audio-only file" in ln for ln in lines)
    assert any("gone.mp4: no such file" in ln for ln in lines)
    rows = read(manifest)
    assert sorted(rows[schema.STATUS]) == sorted(
        ["ok"] * 3 + [schema.NOT_VIDEO, schema.EMPTY, schema.NO_VIDEO, schema.MISSING])


def test_damaged_stream_keeps_frames_before_and_after(videos: dict[str, Path], tmp_path: Path,
                                                      capsys) -> None:
    # two manifests: identical frames of the two files would merge into one row by sha256
    args = ("--every", "4", "--keep-dark", "--crop", "none")
    code = run("frames", str(videos["damaged"]), "-m", str(tmp_path / "bad.csv"), *args)
    assert code == ExitStatus.INPUT
    assert "damaged.mp4: damaged stream" in capsys.readouterr().err
    assert run("frames", str(videos["undamaged"]), "-m", str(tmp_path / "good.csv"), *args) == 0
    good = frames_of(tmp_path / "good.csv", videos["undamaged"])
    bad = frames_of(tmp_path / "bad.csv", videos["damaged"])
    same = sorted(i for i in bad if i in good and bad[i][0] == good[i][0])
    assert same[0] == 0 and same[-1] == 176  # the first and the last frames survive the damage
    assert len(same) >= len(good) // 2
    assert read(tmp_path / "bad.csv")[schema.STATUS].tolist().count(schema.DAMAGED) == 1


def test_missing_ffmpeg_says_how_to_install(monkeypatch, videos: dict[str, Path], tmp_path: Path,
                                            capsys) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(MissingToolError, match="apt-get install ffmpeg"):
        FramesCollector(FramesOptions(videos=(videos["clean"],))).run(Appender(tmp_path / "m.csv"))
    assert run("frames", str(videos["clean"]), "-m", str(tmp_path / "m.csv")) == ExitStatus.MISSING_TOOL
    assert "install" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.shared
def test_recorded_videos_scene_boundaries(shared_fixtures: Path, tmp_path: Path) -> None:
    options = FrameOptions(every=1, keep_dark=True, max_side=96)
    rows: list[dict] = []
    sink = type("Sink", (), {"add": lambda self, row: rows.append(row)})()
    result = harvest_video(shared_fixtures / "video" / "testvideo.mp4", options, sink, store_root=tmp_path)
    assert result.decoded == len(rows) == 720
    starts = [b[schema.FRAME] for a, b in itertools.pairwise(rows) if a[schema.SCENE] != b[schema.SCENE]]
    # PySceneDetect's hard cuts, then the dissolve over frames ~520-555 (a cross-fade between two
    # different shots), which starts a scene at its middle
    assert starts == [30, 180, 394, 531]
    rows.clear()
    harvest_video(shared_fixtures / "video" / "fades.mp4", options, sink, store_root=tmp_path)
    assert len(rows) == 250 and {row[schema.SCENE] for row in rows} == {"fades:0000"}


@pytest.mark.parametrize("args, message", [
    (["--every", "4", "--every-seconds", "1"], "not both"),
    (["--size", "big"], "WIDTHxHEIGHT"),
    (["--start", "3", "--end", "1"], "must be after"),
    (["--crop", "left"], "W:H:X:Y"),
    (["--crop", "0:10"], "W:H:X:Y"),
    (["--format", "gif"], "jpg, png or webp"),
    (["--hwaccel", "warp9"], "no such method"),
    (["--hwaccel", "cuda;rm"], "--hwaccel"),
])
def test_usage_errors_are_one_line(videos: dict[str, Path], tmp_path: Path, capsys, args, message) -> None:
    assert run("frames", str(videos["clean"]), "-m", str(tmp_path / "m.csv"), *args) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "m.csv").exists()


def test_all_dark_video_is_recorded_and_not_decoded_again(tmp_path: Path, capsys) -> None:
    video = make_video(tmp_path / "black.mp4", [("color=c=black", 30)])
    manifest = tmp_path / "m" / "manifest.csv"
    assert run("frames", str(video), "--every", "10", "-m", str(manifest), "--json") == 0
    first = json.loads(capsys.readouterr().out)
    assert first["videos"][str(video)]["kept"] == 0
    (row,) = read(manifest).to_dict("records")
    assert row[schema.STATUS] == schema.NO_FRAMES and "--keep-dark" in row[schema.ERROR]
    assert run("frames", str(video), "--every", "10", "-m", str(manifest), "--json") == 0
    assert json.loads(capsys.readouterr().out)["videos"][str(video)]["skipped"] is True


def test_resume_needs_no_lineage_log(videos: dict[str, Path], tmp_path: Path, capsys) -> None:
    manifest = tmp_path / "m" / "manifest.csv"
    assert run("frames", str(videos["clean"]), "--every", "10", "-m", str(manifest), "--json") == 0
    capsys.readouterr()
    archive = Archive(manifest)
    (entry,) = archive.entries("frames", FrameOptions(every=10).sampling()).values()
    assert entry["kept"] == 9 and entry["size"] == videos["clean"].stat().st_size
    lineage.log_path(manifest).unlink()  # the audit trail is the user's to prune
    assert run("frames", str(videos["clean"]), "--every", "10", "-m", str(manifest), "--json") == 0
    again = json.loads(capsys.readouterr().out)
    assert again["videos"][str(videos["clean"])]["skipped"] is True and again["added"] == 0


def test_manifests_from_before_the_archive_resume_from_the_log(videos: dict[str, Path], tmp_path: Path,
                                                               capsys) -> None:
    manifest = tmp_path / "m" / "manifest.csv"
    assert run("frames", str(videos["clean"]), "--every", "10", "-m", str(manifest), "--json") == 0
    capsys.readouterr()
    archive_path(manifest).unlink()  # as an older gleanset left it: the log only
    assert run("frames", str(videos["clean"]), "--every", "10", "-m", str(manifest), "--json") == 0
    again = json.loads(capsys.readouterr().out)
    assert again["videos"][str(videos["clean"])]["skipped"] is True
    # what the log said is now in the archive, so the log may go
    assert str(videos["clean"].resolve()) in Archive(manifest).entries("frames")
    lineage.log_path(manifest).unlink()
    assert run("frames", str(videos["clean"]), "--every", "10", "-m", str(manifest), "--json") == 0
    assert json.loads(capsys.readouterr().out)["videos"][str(videos["clean"])]["skipped"] is True


def test_hwaccel_auto_takes_the_same_frames(videos: dict[str, Path], tmp_path: Path) -> None:
    from harvest.video.decode import DecodePlan, Selection, VideoDecoder
    from harvest.video.probe import CropBox, probe

    soft, auto = tmp_path / "soft" / "manifest.csv", tmp_path / "auto" / "manifest.csv"
    assert run("frames", str(videos["clean"]), "--every", "10", "-m", str(soft)) == 0
    # auto: a hardware decoder where one works, else software (here); either way the same bytes
    assert run("frames", str(videos["clean"]), "--every", "10", "--hwaccel", "auto", "-m", str(auto)) == 0
    assert frames_of(auto, videos["clean"]) == frames_of(soft, videos["clean"]) != {}
    info = probe(videos["clean"])
    box = CropBox(info.width, info.height)
    plan = DecodePlan(Selection(every=10), box, (box.w, box.h), hwaccel="auto")
    command = VideoDecoder(info, plan).command(3)
    at = command.index("-hwaccel")
    assert command[at + 1] == "auto" and at < command.index("-i")  # an input option
