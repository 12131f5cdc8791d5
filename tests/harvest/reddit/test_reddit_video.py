"""``harvest reddit --video-frames``: frames of downloaded v.redd.it videos through the frames collector.

A generated listing on the local Reddit server holds video posts whose ``fallback_url`` serves small
mp4 files made with ffmpeg lavfi, with a known cut; the real frames machinery runs on them.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

import manifests
from harvest.reddit.media import MediaRules, plan_media
from harvest.reddit.sources import SourceOptions
from harvest.registry import FrameOptions, RedditOptions, RedditVideoFrames
from manifests import InputError, UsageError, schema
from manifests.executor import ExecutorSpec
from tests.fixtures import media
from tests.fixtures.http import Reply
from tests.fixtures.video import cuts, make_video
from tests.harvest.conftest import ENV, RedditWorld, post
from tests.harvest.reddit.test_reddit import collect, harvest

SEGMENTS = [("testsrc2", 30), ("mandelbrot", 30)]  # a hard cut at frame 30
EVERY = 10
URL = "https://v.redd.it/vid01/DASH_720.mp4?source=fallback"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_video(tmp_path_factory.mktemp("v") / "clip.mp4", SEGMENTS).read_bytes()


@pytest.fixture(scope="module")
def dark_clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_video(tmp_path_factory.mktemp("v") / "dark.mp4", [("color=c=black", 20)]).read_bytes()


def video_post(pid: str, **over) -> dict:
    return post(pid, "video", media={"reddit_video": {
        "fallback_url": f"https://v.redd.it/{pid}/DASH_720.mp4?source=fallback", "is_gif": False}},
        **over)


def serve(world: RedditWorld, posts: list[dict], clip: bytes) -> None:
    """The listing, an image for image posts and ``clip`` for every video URL."""
    world.listing("Doom", "hot", posts)
    for p in posts:
        for m in plan_media(p, MediaRules()).media:
            if m.kind == "video":
                world.web.route(world.path_of(m.url), Reply(clip, content_type="video/mp4"))
    world.images([p for p in posts if not p.get("is_video")])


def video_hits(world: RedditWorld) -> list[str]:
    return [r.path for r in world.web.log if r.path.startswith("/v.redd.it/")]


FRAMES = RedditVideoFrames(FrameOptions(every=EVERY, crop="none"))


def test_each_kept_frame_is_a_row_with_the_posts_metadata(world: RedditWorld, tmp_path: Path,
                                                          clip: bytes) -> None:
    posts = [video_post("vid01", score=321, title="a clip"), post("img01")]
    serve(world, posts, clip)
    manifest = tmp_path / "data" / "m.csv"
    summary = collect(world, manifest, video_frames=FRAMES)
    frame = manifests.read(manifest)
    assert summary["ok"] == 7 and summary["failed"] == 0 and summary["skipped"] == {}
    rows = frame[frame[schema.POST_ID] == "vid01"].sort_values(schema.FRAME)
    assert rows[schema.FRAME].tolist() == [0, 10, 20, 30, 40, 50]
    assert rows[schema.ORIGIN].tolist() == [f"{URL}#frame={n}" for n in range(0, 60, EVERY)]
    assert set(rows[schema.VIDEO]) == {URL} and set(rows[schema.MEDIA_URL]) == {URL}
    assert set(rows[schema.SOURCE]) == {"reddit"} and set(rows[schema.LABEL]) == {"Doom"}
    assert set(rows[schema.SCORE]) == {321} and set(rows[schema.TITLE]) == {"a clip"}
    assert set(rows[schema.SUBREDDIT]) == {"Doom"} and set(rows[schema.AUTHOR]) == {"doomguy"}
    assert set(rows[schema.PERMALINK]) == {"https://www.reddit.com/r/Doom/comments/vid01/post_vid01/"}
    assert (rows[schema.STATUS] == "ok").all() and rows[schema.SHA256].nunique() == 6
    assert set(rows[schema.SAMPLING]) == {FRAMES.options.sampling()}
    assert set(rows[schema.CROP]) == {"160:120:0:0"}
    for rel in rows[schema.PATH]:
        assert (manifest.parent / rel).is_file() and rel.startswith("images/")
    cut = cuts(SEGMENTS)[0]
    before = set(rows.loc[rows[schema.FRAME] < cut, schema.SCENE])
    after = set(rows.loc[rows[schema.FRAME] >= cut, schema.SCENE])
    assert before == {"vid01:0000"} and after == {"vid01:0001"}
    assert frame.loc[frame[schema.POST_ID] == "img01", schema.SCENE].isna().all()


def test_videos_are_skipped_without_the_handler(world: RedditWorld, tmp_path: Path, clip: bytes) -> None:
    serve(world, [video_post("vid01"), post("img01")], clip)
    summary = collect(world, tmp_path / "m.csv")
    assert summary["skipped"] == {"video": 1} and summary["ok"] == 1
    assert video_hits(world) == []


def test_a_rerun_downloads_and_decodes_nothing(world: RedditWorld, tmp_path: Path, clip: bytes,
                                               dark_clip: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    posts = [video_post("vid01"), video_post("drk01"), post("img01")]
    serve(world, posts, clip)
    world.web.route("/v.redd.it/drk01/DASH_720.mp4", Reply(dark_clip, content_type="video/mp4"))
    manifest = tmp_path / "m.csv"
    first = collect(world, manifest, video_frames=FRAMES)
    assert first["ok"] == 7 and first["statuses"] == {"ok": 7, "no_frames": 1}
    dark = manifests.read(manifest).set_index(schema.POST_ID).loc["drk01"]
    assert dark[schema.STATUS] == "no_frames" and "2 dark" in dark[schema.ERROR]
    world.web.log.clear()
    monkeypatch.setattr("harvest.reddit.video.harvest_video", _must_not_decode)
    second = collect(world, manifest, video_frames=FRAMES)
    assert video_hits(world) == [] and second["posts_known"] == 3 and second["added"] == 0
    assert len(manifests.read(manifest)) == 8


def _must_not_decode(*args, **kwargs):
    raise AssertionError("a recorded video was decoded again")


def test_broken_videos_become_rows_and_the_run_goes_on(world: RedditWorld, tmp_path: Path,
                                                       clip: bytes) -> None:
    posts = [video_post("gone1"), video_post("html1"), video_post("vid01"), post("img01")]
    serve(world, posts, clip)
    world.web.route("/v.redd.it/gone1/DASH_720.mp4", Reply(media.html_page(), 404, content_type="text/html"))
    world.web.route("/v.redd.it/html1/DASH_720.mp4", Reply(media.html_page(), content_type="video/mp4"))
    manifest = tmp_path / "m.csv"
    summary = collect(world, manifest, video_frames=FRAMES)
    frame = manifests.read(manifest)
    failed = frame[frame[schema.STATUS] != "ok"].set_index(schema.POST_ID)
    assert failed[schema.STATUS].to_dict() == {"gone1": "http_error", "html1": "not_video"}
    assert failed.loc["gone1", schema.ERROR].startswith("HTTP 404")
    assert failed.loc["html1", schema.ORIGIN] == "https://v.redd.it/html1/DASH_720.mp4?source=fallback"
    assert set(failed[schema.SOURCE]) == {"reddit"} and failed[schema.PATH].isna().all()
    assert summary["ok"] == 7 and summary["failed"] == 2
    world.web.log.clear()
    collect(world, manifest, video_frames=FRAMES)
    assert video_hits(world) == []  # 404 and not-a-video are final, not retried


def test_cli_video_frames(world: RedditWorld, tmp_path: Path, clip: bytes, capsys,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    serve(world, [video_post("vid01"), post("img01")], clip)
    manifest = tmp_path / "m.csv"
    base = ["reddit", "r/Doom", "-m", str(manifest), "--oauth-url", world.web.base, "--reddit-url",
            world.web.base, *(f"--mirror={p}={u}" for p, u in world.fetch.mirrors), "--allow-private"]
    code, _, err = harvest([*base, "--crop", "none"], capsys)
    assert code == 2 and "--crop only apply to video frames" in err
    code, _, err = harvest([*base, "--every", "5", "--every-seconds", "1"], capsys)
    assert code == 2 and "not both" in err
    code, out, _ = harvest([*base, "--every", "20", "--max-side", "80", "--format", "png", "--label",
                            "clips", "--json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["ok"] == 4 and data["skipped"] == {}
    rows = manifests.read(manifest)
    video = rows[rows[schema.POST_ID] == "vid01"]
    assert sorted(video[schema.FRAME]) == [0, 20, 40] and set(video[schema.FORMAT]) == {"png"}
    assert set(rows[schema.LABEL]) == {"clips"} and set(video[schema.SCENE]) == {"vid01:0000", "vid01:0001"}
    assert set(video[schema.WIDTH]) == {80} and set(video[schema.HEIGHT]) == {60}
    code, out, _ = harvest([*base, "--video-frames", "--json"], capsys)
    assert code == 0 and json.loads(out)["posts_known"] == 2


DISTINCT = ("testsrc", "testsrc2", "mandelbrot", "rgbtestsrc", "smptebars", "yuvtestsrc")


@pytest.mark.shared
def test_recorded_listing_video_posts(shared_fixtures: Path, world: RedditWorld, tmp_path: Path) -> None:
    listing = json.loads((shared_fixtures / "reddit" / "popular_hot_2026-04.json").read_text())
    rules = MediaRules(allow_nsfw=True, allow_spoilers=True)
    videos = [c["data"] for c in listing["data"]["children"]
              if any(m.kind == "video" for m in plan_media(c["data"], rules).media)][:6]
    assert len(videos) == 6
    world.listing("popular", "hot", videos)
    for n, p in enumerate(videos):  # distinct videos: identical frames would merge by sha256
        clip = make_video(tmp_path / f"{n}.mp4", [(DISTINCT[n], 31)]).read_bytes()
        for m in plan_media(p, rules).media:
            world.web.route(world.path_of(m.url), Reply(clip, content_type="video/mp4"))
    summary = collect(world, tmp_path / "m.csv", subreddits=("popular",), rules=rules,
                      video_frames=RedditVideoFrames(FrameOptions(every=30, crop="none")))
    frame = manifests.read(tmp_path / "m.csv")
    assert summary["failed"] == 0 and summary["ok"] == 2 * frame[schema.VIDEO].nunique()
    assert frame[schema.POST_ID].nunique() == frame[schema.VIDEO].nunique() >= 5
    assert (frame[schema.ORIGIN] == frame[schema.VIDEO] + "#frame=" + frame[schema.FRAME].astype(str)).all()
    assert all(s.split(":")[0] == p for s, p in zip(frame[schema.SCENE], frame[schema.POST_ID], strict=True))
    assert set(frame[schema.LABEL]) == set(frame[schema.SUBREDDIT])


def scene_table(path: Path) -> list[tuple[str, str, int, int]]:
    with path.open(newline="") as src:
        return [(r["video"], r["scene"], int(r["start_frame"]), int(r["end_frame"]))
                for r in csv.DictReader(src)]


def test_cli_scene_options_choose_the_frames_and_write_the_scene_list(
        world: RedditWorld, tmp_path: Path, clip: bytes, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    serve(world, [video_post("vid01")], clip)

    def run(name: str, *options: str) -> tuple[int, dict, list]:
        manifest = tmp_path / name / "m.csv"
        code, out, err = harvest(["reddit", "r/Doom", "-m", str(manifest), "--oauth-url", world.web.base,
                                  "--reddit-url", world.web.base, "--allow-private", "--crop", "none",
                                  *(f"--mirror={p}={u}" for p, u in world.fetch.mirrors), "--json",
                                  *options], capsys)
        assert code == 0, err
        rows = manifests.read(manifest).sort_values(schema.FRAME)
        return code, json.loads(out), list(zip(rows[schema.FRAME], rows[schema.SCENE], strict=True))

    table = tmp_path / "scenes" / "doom.csv"
    _, data, rows = run("two", "--frames-per-scene", "2", "--scenes-csv", str(table))
    # two frames from the middles of each half of both 30-frame shots
    assert rows == [(7, "vid01:0000"), (22, "vid01:0000"), (37, "vid01:0001"), (52, "vid01:0001")]
    assert data["scenes_csv"] == str(table)
    assert scene_table(table) == [(URL, "vid01:0000", 0, 29), (URL, "vid01:0001", 30, 59)]
    # a scene lasts at least 40 frames: the cut at 30 is ignored, one scene, its frames spread over it
    _, _, rows = run("long", "--frames-per-scene", "2", "--min-scene-len", "40")
    assert rows == [(15, "vid01:0000"), (45, "vid01:0000")]
    _, _, rows = run("adaptive", "--every", "30", "--detector", "adaptive", "--adaptive-threshold", "2")
    assert rows == [(0, "vid01:0000"), (30, "vid01:0001")]
    sampling = manifests.read(tmp_path / "long" / "m.csv")[schema.SAMPLING].iloc[0]
    assert "min_len=40" in sampling and "per_scene=2" in sampling
    base = ["reddit", "r/Doom", "-m", str(tmp_path / "x.csv"), "--oauth-url", world.web.base]
    # issue 28: the sampling policy too; key frames only, where the shots' first frames are key frames
    _, data, rows = run("keys", "--every", "30", "--sampling", "keyframes")
    assert rows == [(0, "vid01:0000"), (30, "vid01:0001")]
    assert "decode=keyframes" in manifests.read(tmp_path / "keys" / "m.csv")[schema.SAMPLING].iloc[0]
    code, _, err = harvest([*base, "--min-scene-len", "10", "--scenes-csv", "s.csv"], capsys)
    assert code == 2 and "--scenes-csv, --min-scene-len only apply to video frames" in err
    code, _, err = harvest([*base, "--sampling", "keyframes"], capsys)
    assert code == 2 and "--sampling only apply to video frames" in err
    code, _, err = harvest([*base, "--frames-per-scene", "2", "--every", "5"], capsys)
    assert code == 2 and "not both" in err


def test_the_scene_list_keeps_earlier_videos_on_a_rerun(world: RedditWorld, tmp_path: Path,
                                                         clip: bytes) -> None:
    other = make_video(tmp_path / "other.mp4", [("smptebars", 20), ("testsrc", 20)]).read_bytes()
    table = tmp_path / "scenes.csv"
    frames = RedditVideoFrames(FrameOptions(frames_per_scene=1, crop="none"), scenes_csv=table)
    manifest = tmp_path / "m.csv"
    serve(world, [video_post("vid01")], clip)
    first = collect(world, manifest, video_frames=frames)
    assert first["scenes_csv"] == str(table) and len(scene_table(table)) == 2
    serve(world, [video_post("vid01"), video_post("vid02")], clip)
    world.web.route("/v.redd.it/vid02/DASH_720.mp4", Reply(other, content_type="video/mp4"))
    world.web.log.clear()
    again = RedditVideoFrames(FrameOptions(frames_per_scene=1, crop="none"), scenes_csv=table)
    collect(world, manifest, video_frames=again)
    assert video_hits(world) == ["/v.redd.it/vid02/DASH_720.mp4"]  # vid01 is not decoded again
    second = URL.replace("vid01", "vid02")
    assert scene_table(table) == [(URL, "vid01:0000", 0, 29), (URL, "vid01:0001", 30, 59),
                                  (second, "vid02:0000", 0, 19), (second, "vid02:0001", 20, 39)]


def test_a_scenes_csv_that_is_not_a_scene_list_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "notes.csv"
    other.write_text("name,value\na,1\n")
    with pytest.raises(InputError, match="not a scene list"):
        RedditVideoFrames(FrameOptions(), scenes_csv=other)
    assert other.read_text() == "name,value\na,1\n"
    frames = RedditVideoFrames(FrameOptions(), scenes_csv=tmp_path / "s.csv")
    source = SourceOptions(subreddits=("Doom",))
    with pytest.raises(UsageError, match="local executor"):
        RedditOptions(source=source, video_frames=frames, executor=ExecutorSpec("dask-local", 2))


def test_an_interrupted_run_still_writes_the_scenes_of_the_videos_it_decoded(
        world: RedditWorld, tmp_path: Path, clip: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    serve(world, [video_post("vid01")], clip)
    table = tmp_path / "scenes.csv"

    def interrupt(sink, source, rows):  # Ctrl-C once the video's rows are in
        raise KeyboardInterrupt

    monkeypatch.setattr("harvest.reddit.collector._mark_done", interrupt)
    with pytest.raises(KeyboardInterrupt):
        collect(world, tmp_path / "m.csv", video_frames=RedditVideoFrames(
            FrameOptions(every=EVERY, crop="none"), scenes_csv=table))
    assert [row[1] for row in scene_table(table)] == ["vid01:0000", "vid01:0001"]
